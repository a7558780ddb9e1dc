"""License detection against the official SPDX license templates.

`detect_dir(path)` and `detect_zip(zip, module_path, version)` return a `LicenseReport`;
`load_index()` gives the compiled templates (cached on disk). Pass `index=` to reuse one
loaded index; without it the process-wide default index is loaded once on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from .detect import (
    FileLicenses,
    LicenseReport,
    declared_license,
    detector_version,
    is_license_file,
)
from .detect import detect_dir as _detect_dir
from .detect import detect_files as _detect_files
from .detect import detect_text as _detect_text
from .detect import detect_zip as _detect_zip
from .matcher import LicenseMatch
from .templates import TemplateIndex, load_index

__all__ = [
    "FileLicenses",
    "LicenseMatch",
    "LicenseReport",
    "TemplateIndex",
    "declared_license",
    "default_index",
    "detect_dir",
    "detect_files",
    "detect_text",
    "detect_zip",
    "detector_version",
    "is_license_file",
    "load_index",
]


@functools.cache
def default_index() -> TemplateIndex:
    """The index from the default cache directory, loaded once (read-only afterwards)."""
    return load_index()


def detect_dir(
    path: Path | str, *, index: TemplateIndex | None = None, skip: Iterable[str] = ()
) -> LicenseReport:
    return _detect_dir(path, index=index or default_index(), skip=skip)


def detect_zip(
    zip_data: bytes | Path, module_path: str, version: str, *, index: TemplateIndex | None = None
) -> LicenseReport:
    return _detect_zip(zip_data, module_path, version, index=index or default_index())


def detect_files(
    files: dict[str, bytes], *, index: TemplateIndex | None = None, declared: str | None = None
) -> LicenseReport:
    return _detect_files(files, index=index or default_index(), declared=declared)


def detect_text(text: str, *, index: TemplateIndex | None = None) -> tuple[LicenseMatch, ...]:
    return _detect_text(text, index=index or default_index())
