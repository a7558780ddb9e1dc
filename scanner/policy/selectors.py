"""Which module versions a policy entry names: GOPRIVATE-style module patterns, semver ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .. import semver
from ..errors import InputError

_CONSTRAINT = re.compile(r"\s*(>=|<=|>|<|=|==|!=)?\s*(\S+)\s*")


def module_matches(pattern: str, module_path: str) -> bool:
    """As GOPRIVATE: the glob matches the module path or a leading run of its elements."""
    want = pattern.strip().rstrip("/").split("/")
    have = module_path.split("/")
    if len(have) < len(want):
        return False
    return all(fnmatchcase(h, w) for h, w in zip(have, want, strict=False))


@dataclass(frozen=True)
class VersionRange:
    """A conjunction of semver constraints (`>=v1.2.0, <v2.0.0`); empty means every version."""

    constraints: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str | None, where: str = "versions") -> VersionRange:
        if text is None or not text.strip() or text.strip() == "*":
            return cls(())
        out = []
        for part in text.split(","):
            m = _CONSTRAINT.fullmatch(part)
            if not m:
                raise InputError(f"{where}: cannot read the constraint {part.strip()!r}")
            op = m.group(1) or "="
            version = m.group(2)
            if not version.startswith("v"):
                version = "v" + version
            if not semver.is_valid(version):
                raise InputError(
                    f"{where}: {m.group(2)!r} is not a semantic version",
                    hint="write versions as Go does, e.g. v1.2.3",
                )
            out.append(("=" if op == "==" else op, version))
        return cls(tuple(out))

    def contains(self, version: str) -> bool:
        if not self.constraints:
            return True
        if not semver.is_valid(version):
            return False
        for op, bound in self.constraints:
            c = semver.compare(version, bound)
            ok = {
                "=": c == 0,
                "!=": c != 0,
                ">": c > 0,
                ">=": c >= 0,
                "<": c < 0,
                "<=": c <= 0,
            }[op]
            if not ok:
                return False
        return True

    def __str__(self) -> str:
        return ", ".join(f"{op}{v}" for op, v in self.constraints) or "*"
