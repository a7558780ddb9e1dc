"""Atheris harness for the parsers: only documented error types (scanner.errors) may escape.

Run on demand (not part of the test suite; needs `pip install atheris`):

    python tests/fuzz/fuzz_parsers.py gomod tests/fuzz/corpus/gomod -max_total_time=60
    python tests/fuzz/fuzz_parsers.py --replay            # every target over its seed corpus

Targets: gomod, gomod_lax, gosum, gowork, modules_txt, semver, escape, check_zip, route.
A crash is any other exception; atheris saves the input as crash-<sha1> in the directory.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from scanner.errors import GoProxyScanError

CORPUS = Path(__file__).parent / "corpus"


def load_targets() -> dict[str, Callable[[bytes], object]]:
    """The parsers, imported here so that atheris instruments them as they load."""
    from proxy.app import parse_route
    from proxy.errors import ProxyError
    from scanner import semver
    from scanner.errors import GoProxyScanError
    from scanner.gomod import parse_gomod
    from scanner.gosum import parse_gosum
    from scanner.gowork import parse_gowork
    from scanner.module import escape_path, escape_version, unescape_path, unescape_version
    from scanner.modulestxt import parse_modules_txt
    from scanner.modzip import check_zip

    def _text(data: bytes) -> str:
        return data.decode("utf-8", "surrogateescape")

    def _semver(data: bytes) -> None:
        v = _text(data)
        c = semver.canonical(v)
        if semver.is_valid(v):
            assert c and semver.compare(v, c) == 0, v
        semver.sort_versions([v, c, "v1.0.0"])

    def _escape(data: bytes) -> None:
        s = _text(data)
        for unescape, escape in ((unescape_path, escape_path), (unescape_version, escape_version)):
            try:
                plain = unescape(s)
            except GoProxyScanError:
                continue
            assert escape(plain) == s, s  # an accepted escape is the only spelling of its value

    def _check_zip(data: bytes) -> None:
        check_zip(data, "example.com/m", "v1.0.0")

    def _route(data: bytes) -> None:
        with contextlib.suppress(ProxyError):
            parse_route(_text(data))

    TARGETS: dict[str, Callable[[bytes], object]] = {
        "gomod": lambda d: parse_gomod(d),
        "gomod_lax": lambda d: parse_gomod(d, lax=True),
        "gosum": lambda d: parse_gosum(d),
        "gowork": lambda d: parse_gowork(d),
        "modules_txt": lambda d: parse_modules_txt(d),
        "semver": _semver,
        "escape": _escape,
        "check_zip": _check_zip,
        "route": _route,
    }
    return TARGETS


def corpus_dir(target: str) -> Path:
    """The seed corpus of a target (gomod_lax shares gomod's)."""
    return CORPUS / target.removesuffix("_lax")


def one_input(target: Callable[[bytes], object]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        # Documented: ParseError, InvalidModuleError, ZipViolation, ProxyError, ...
        with contextlib.suppress(GoProxyScanError):
            target(data)

    return run


def replay() -> int:
    """Every seed of every target once; prints and counts failures (for CI or a quick check)."""
    failures = 0
    for name, target in load_targets().items():
        corpus = corpus_dir(name)
        seeds = sorted(corpus.glob("*")) if corpus.is_dir() else []
        for seed in seeds:
            try:
                one_input(target)(seed.read_bytes())
            except Exception as e:  # reporting every escape is the point
                failures += 1
                print(f"{name}: {seed.name}: {type(e).__name__}: {e}", file=sys.stderr)
        print(f"{name}: {len(seeds)} seeds replayed")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--replay":
        return replay()
    names = ("gomod", "gomod_lax", "gosum", "gowork", "modules_txt", "semver", "escape")
    names += ("check_zip", "route")
    if len(argv) < 2 or argv[1] not in names:
        print(f"usage: {argv[0]} TARGET [CORPUS_DIR] [libFuzzer flags] | --replay", file=sys.stderr)
        print(f"targets: {', '.join(names)}", file=sys.stderr)
        return 2
    import atheris

    with atheris.instrument_imports(include=["scanner", "proxy"]):  # coverage feedback
        target = load_targets()[argv[1]]
    atheris.Setup([argv[0], *argv[2:]], one_input(target))
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
