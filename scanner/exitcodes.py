"""Process exit codes shared by both CLIs; only the CLIs exit."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What a `goproxy-scan` / `go-vault` process tells its caller."""

    PASS = 0
    VIOLATION = 1
    INPUT = 2
    OPERATIONAL = 3
