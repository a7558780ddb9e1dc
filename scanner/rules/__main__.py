"""`python -m scanner.rules DIR`: the source rules alone, with the start-up cost of nothing else.

Prints one line per active finding (`path:line:col: RULE severity: message`) and a summary;
`--json` prints the findings as JSON instead. Exit 1 when an active finding is at or above
`--fail-on`, else 0. `goproxy-scan scan` is the full check; this entry point exists for editors,
pre-commit hooks and the benchmark (bench/bench_rules.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields

from ..errors import GoProxyScanError
from ..result import Severity
from .runner import Finding, scan_sources

FIELDS = tuple(f.name for f in fields(Finding))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scanner.rules", description=__doc__)
    parser.add_argument("directory", nargs="?", default=".")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--tests", action="store_true", help="scan _test.go files too")
    parser.add_argument("--every-file", action="store_true", help="ignore module boundaries")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.add_argument("--fail-on", default="high", choices=[s.value for s in Severity])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        scan = scan_sources(
            args.directory,
            cache_dir=args.cache_dir,
            jobs=args.jobs,
            tests=args.tests,
            every_file=args.every_file,
            use_cache=not args.no_cache,
        )
    except GoProxyScanError as e:
        sys.stderr.write(f"error: {e}\n")
        return int(e.exit_code)
    active = [f for f in scan.findings if not f.suppressed]
    out = sys.stdout
    if args.json:
        json.dump(
            {
                "findings": [{k: getattr(f, k) for k in FIELDS} for f in scan.findings],
                "parse_errors": [str(p) for p in scan.parse_errors],
                "files_scanned": scan.files_scanned,
                "files_cached": scan.files_cached,
            },
            out,
            separators=(",", ":"),  # no indent: the C encoder, fast for large trees
        )
        out.write("\n")
    elif not args.quiet:
        for f in active:
            out.write(f"{f.path}:{f.line}:{f.column}: {f.rule_id} {f.severity}: {f.message}\n")
        for p in scan.parse_errors:
            out.write(f"{p}\n")
    fail_on = Severity(args.fail_on)
    failing_levels = {s for s in Severity if s.rank >= fail_on.rank}
    failing = sum(1 for f in active if f.severity in failing_levels)
    sys.stderr.write(
        f"{len(active)} findings ({len(scan.findings) - len(active)} suppressed, {failing} at or "
        f"above {fail_on}), {len(scan.parse_errors)} files with syntax errors; "
        f"{scan.files_scanned} files, {scan.files_cached} from cache, "
        f"{time.perf_counter() - started:.2f} s\n"
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
