"""The Go settings the go command would use: the environment, then `go env -w`'s file; and
GONOPROXY/GOPRIVATE pattern matching (golang.org/x/mod/module.MatchPrefixPatterns)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path


class GoEnviron(Mapping[str, str]):
    """`env` with the go command's fallback: a variable that is unset or empty there is read
    from the file `go env -w` writes ($GOENV, by default <user config dir>/go/env), as
    cmd/go's cfg.Getenv does (`go env -w` writes only the go command's own variables)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.file = _read_env_file(env_file(env))

    def __getitem__(self, key: str) -> str:
        value = self.env.get(key, "")
        if value == "" and key in self.file:
            return self.file[key]
        if key in self.env:
            return self.env[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from self.env
        yield from (k for k in self.file if k not in self.env)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def go_environ(env: Mapping[str, str]) -> Mapping[str, str]:
    """`env` seen as the go command sees it (GoEnviron); one already wrapped is returned."""
    return env if isinstance(env, GoEnviron) else GoEnviron(env)


def env_file(env: Mapping[str, str]) -> Path | None:
    """The `go env -w` file: $GOENV ("off": none), else os.UserConfigDir()/go/env."""
    goenv = env.get("GOENV", "")
    if goenv == "off":
        return None
    if goenv:
        return Path(goenv)
    if sys.platform == "win32":
        base = env.get("AppData", "")
    elif sys.platform == "darwin":
        base = env.get("HOME", "") and str(Path(env["HOME"]) / "Library" / "Application Support")
    else:
        base = env.get("XDG_CONFIG_HOME", "") or (
            env.get("HOME", "") and str(Path(env["HOME"]) / ".config")
        )
    return Path(base) / "go" / "env" if base else None


def _read_env_file(path: Path | None) -> dict[str, str]:
    """KEY=VALUE lines, as cmd/go reads them: a line not starting with A-Z or without "=" is
    skipped (comments, blanks); a later line wins."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}  # no file is the usual case; an unreadable one the go command skips too
    values: dict[str, str] = {}
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if sep and "A" <= line[:1] <= "Z":
            values[key] = value
    return values


def noproxy_patterns(env: Mapping[str, str]) -> str:
    """GONOPROXY, which defaults to GOPRIVATE: the module paths the go command fetches from
    version control, never from a proxy."""
    return env.get("GONOPROXY", "") or env.get("GOPRIVATE", "")


def match_prefix_patterns(globs: str, target: str) -> bool:
    """Whether any comma-separated glob matches a leading run of `target`'s path elements
    (module.MatchPrefixPatterns: "corp.example.com" matches corp.example.com/x/y; "*.corp"
    matches a.corp/z; path.Match syntax, where * and ? never match a slash)."""
    for glob in globs.split(","):
        glob = glob.strip().rstrip("/")
        if not glob:
            continue
        n = glob.count("/") + 1
        elements = target.split("/")
        if len(elements) < n:
            continue
        if _glob_regex(glob).fullmatch("/".join(elements[:n])):
            return True
    return False


@lru_cache(maxsize=64)
def _glob_regex(glob: str) -> re.Pattern[str]:
    """Go's path.Match pattern as a regex (a malformed class matches nothing, as Go's
    ErrBadPattern makes MatchPrefixPatterns skip it)."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        elif c == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                return re.compile(r"(?!)")
            body = glob[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


__all__ = ["GoEnviron", "env_file", "go_environ", "match_prefix_patterns", "noproxy_patterns"]
