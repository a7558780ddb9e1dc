"""Small facts about files that both tools' writers need."""

from __future__ import annotations

import stat
from pathlib import Path


def written_in_place(path: Path) -> bool:
    """Whether `path` is there and is neither a regular file nor a directory (a device, a pipe):
    an output written there whole, never through a temporary file renamed over it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
