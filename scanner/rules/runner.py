"""scan_sources: every rule over the main module's Go files, cached per file, spread over cores."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..result import Severity, fingerprint
from ..source import SyntaxProblem, module_go_files
from .cache import (
    FileRecord,
    IndexEntry,
    ObjectStore,
    ResultCache,
    content_key,
    default_cache_dir,
    rows_of,
)
from .catalog import BY_ID

# Below this many files to analyse, starting worker processes costs more than it saves.
POOL_THRESHOLD = 48


@dataclass(frozen=True, slots=True)
class Finding:
    """One source-rule finding; `path` is slash-separated, relative to the scanned directory."""

    rule_id: str
    severity: Severity
    cwe: str
    path: str
    line: int
    column: int
    end_line: int
    message: str
    fix: str
    suppressed: bool = False
    suppression_reason: str = ""
    fingerprint: str = ""
    end_column: int = 0


@dataclass(frozen=True, slots=True)
class SourceScan:
    """The outcome of scan_sources. `files_cached` of `files_scanned` were not parsed again."""

    findings: tuple[Finding, ...]
    parse_errors: tuple[SyntaxProblem, ...]
    files_scanned: int
    files_cached: int


# (relative path, absolute path) of one file to analyse
Job = tuple[str, str]
# relative path, size, mtime_ns, content key, record, came from the object cache
Outcome = tuple[str, int, int, str, FileRecord, bool]


def scan_sources(
    main_dir: Path | str,
    *,
    cache_dir: Path | str | None = None,
    jobs: int | None = None,
    tests: bool = False,
    every_file: bool = False,
    use_cache: bool = True,
) -> SourceScan:
    """Run every source rule over the main module's .go files.

    Files are those the go command would build as the main module (see
    `source.module_go_files`); `tests=True` adds _test.go files; `every_file=True` takes every
    .go file under main_dir, nested modules, vendor/ and testdata/ included (for audits and
    benchmarks). Results are cached in `cache_dir` (default: `default_cache_dir`) so a rescan
    parses only changed files; `jobs` worker processes (default: one per CPU) parse the rest.
    A file that does not parse is listed in `parse_errors` and scanned as far as it parses.
    """
    root = Path(main_dir).absolute()
    if not root.is_dir():
        raise InputError(
            "not a directory", path=str(main_dir), hint="give the main module's directory"
        )
    files = _list_files(root, tests=tests, every_file=every_file)
    store = ResultCache(Path(cache_dir) if cache_dir else default_cache_dir(root), root)
    index = store.load_index() if use_cache else {}
    entries: dict[str, IndexEntry] = {}
    todo: list[Job] = []
    for rel, path in files:
        entry = index.get(rel)
        if entry is not None and entry.mtime_ns >= 0:
            try:
                st = os.stat(path)
            except OSError:
                st = None
            if st is not None and (st.st_size, st.st_mtime_ns) == (entry.size, entry.mtime_ns):
                entries[rel] = entry
                continue
        todo.append((rel, path))
    cached = len(entries)
    objects = str(store.objects.root) if use_cache else None
    for rel, size, mtime_ns, key, record, from_cache in _analyse(todo, objects, jobs):
        rows = rows_of(record, _fingerprints(rel, record))
        entries[rel] = IndexEntry(size, mtime_ns, key, rows, list(record.error or []) or None)
        cached += from_cache
    if use_cache and (todo or len(entries) != len(index)):
        store.save_index(entries)
    findings, problems = _collect(entries)
    return SourceScan(findings, problems, len(files), cached)


def _list_files(root: Path, *, tests: bool, every_file: bool) -> list[Job]:
    if not every_file:
        paths = [str(p) for p in module_go_files(root, tests=tests)]
    else:
        paths = []
        for directory, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            paths.extend(
                os.path.join(directory, n)
                for n in names
                if n.endswith(".go") and (tests or not n.endswith("_test.go"))
            )
        paths.sort()
    prefix = len(str(root)) + 1
    return [(p[prefix:].replace(os.sep, "/"), p) for p in paths]


def _analyse(todo: Sequence[Job], objects: str | None, jobs: int | None) -> Iterable[Outcome]:
    workers = jobs or _cpu_count()
    if workers <= 1 or len(todo) < POOL_THRESHOLD:
        return analyse_chunk(list(todo), objects)
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # Biggest files first, dealt round-robin, so every chunk carries a similar load.
    ordered = sorted(todo, key=lambda job: _size(job[1]), reverse=True)
    chunk_count = workers * 4
    chunks = [ordered[i::chunk_count] for i in range(chunk_count)]
    out: list[Outcome] = []
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for part in pool.map(analyse_chunk, chunks, [objects] * len(chunks)):
                out.extend(part)
    except (OSError, BrokenProcessPool):
        # No worker processes here (a sandbox without fork or /dev/shm): slower, same result.
        return analyse_chunk(list(todo), objects)
    return out


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def analyse_chunk(chunk: list[Job], objects: str | None) -> list[Outcome]:
    """Worker: read, hash, look up, else parse and run the rules; store new results.

    Runs in a worker process (tree-sitter objects do not pickle, so each process parses for
    itself); returns plain values.
    """
    from .engine import default_engine

    store = ObjectStore(Path(objects)) if objects is not None else None
    out: list[Outcome] = []
    for rel, path in chunk:
        try:
            with open(path, "rb") as f:
                # Stat before reading: a change during the read then shows at the next scan.
                st = os.fstat(f.fileno())
                data = f.read()
        except OSError as e:
            record = FileRecord((), (1, 1, f"cannot read: {e.strerror or e}"))
            out.append((rel, -1, -1, "", record, False))
            continue
        key = content_key(data, rel.endswith("_test.go"))
        known = store.get(key) if store is not None else None
        if known is not None:
            out.append((rel, st.st_size, st.st_mtime_ns, key, known, True))
            continue
        hits, source = default_engine().analyse_bytes(rel, data)
        error = source.error
        record = FileRecord(
            tuple(hits), (error.line, error.column, error.message) if error else None
        )
        if store is not None:
            store.put(key, record)
        out.append((rel, st.st_size, st.st_mtime_ns, key, record, False))
    return out


def _fingerprints(rel: str, record: FileRecord) -> list[str]:
    # Equal lines of one rule are told apart by their order (result.fingerprint's ordinal).
    seen: dict[tuple[str, str], int] = {}
    out = []
    for hit in record.hits:
        ordinal = seen.get((hit.rule_id, hit.anchor), 0)
        seen[(hit.rule_id, hit.anchor)] = ordinal + 1
        out.append(fingerprint(hit.rule_id, rel, hit.anchor, ordinal))
    return out


def _collect(
    entries: dict[str, IndexEntry],
) -> tuple[tuple[Finding, ...], tuple[SyntaxProblem, ...]]:
    findings: list[Finding] = []
    problems: list[SyntaxProblem] = []
    meta = {spec.id: (spec.severity, spec.cwe, spec.fix) for spec in BY_ID.values()}
    add = findings.append
    for rel in sorted(entries):
        entry = entries[rel]
        if entry.error:
            problems.append(SyntaxProblem(rel, *entry.error))
        # Positional construction: a rescan of a large tree builds every finding here.
        for rule_id, line, column, end_line, end_column, message, _, sup, why, fp in entry.rows:
            severity, cwe, fix = meta[rule_id]
            add(
                Finding(
                    rule_id,
                    severity,
                    cwe,
                    rel,
                    line,
                    column,
                    end_line,
                    message,
                    fix,
                    sup,
                    why,
                    fp,
                    end_column,
                )
            )
    return tuple(findings), tuple(problems)
