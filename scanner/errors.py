"""The error hierarchy: one base, subclasses that carry where it happened and what to do."""

from __future__ import annotations

from .exitcodes import ExitCode


class GoProxyScanError(Exception):
    """Base of every error this distribution raises on purpose.

    `str(err)` is the user-facing message: where (file:line or module@version), what, what to do.
    """

    exit_code: ExitCode = ExitCode.OPERATIONAL

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        module: str | None = None,
        version: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.module = module
        self.version = version
        self.hint = hint

    @property
    def where(self) -> str:
        if self.path is not None:
            return f"{self.path}:{self.line}" if self.line is not None else self.path
        if self.module is not None:
            return f"{self.module}@{self.version}" if self.version else self.module
        return ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InputError(GoProxyScanError):
    """Bad input: a file, flag or value the user can fix. Exit 2."""

    exit_code = ExitCode.INPUT


class ParseError(InputError):
    """A go.mod, go.sum, go.work, modules.txt or policy file that does not parse."""


class InvalidModuleError(InputError):
    """A module path, import path, file path or version that breaks Go's rules."""


class OperationalError(GoProxyScanError):
    """Something outside the input failed: network, proxy, disk, a subprocess. Exit 3."""

    exit_code = ExitCode.OPERATIONAL


class NotFoundError(OperationalError):
    """A module, version or artifact does not exist where it was looked for."""


def yaml_problem(e: Exception) -> tuple[str, int | None]:
    """A PyYAML error as one line (its problem, and where the construct began) and the line
    it points at: its own text spans several lines and quotes the input."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    context, start = getattr(e, "context", None), getattr(e, "context_mark", None)
    if context and start is not None:
        problem += f" ({context} on line {start.line + 1})"
    return problem, mark.line + 1 if mark is not None else None


def utf8_problem(e: UnicodeDecodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 as one line (which byte, which column) and the line it is on.

    Decode the file's bytes yourself (`data.decode("utf-8")`), so that `e.object` is the file.
    """
    data = bytes(e.object)
    line_start = data.rfind(b"\n", 0, e.start) + 1
    line = data.count(b"\n", 0, e.start) + 1
    return f"not UTF-8 text: byte 0x{data[e.start]:02x} at column {e.start - line_start + 1}", line
