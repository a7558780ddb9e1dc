"""Scratch directories (proxy/scratch.py): a killed process's is removed by the next process to
look; a live one's never, not even by another directory of the same process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proxy.scratch import ScratchDir, TempBeside, sweep
from proxy.storage import Kind
from proxy.storage.fs import FsStorage

HOLD = """
import sys
from pathlib import Path
from proxy.scratch import ScratchDir
scratch = ScratchDir(Path(sys.argv[1]), sys.argv[2])
(scratch.path / "half.zip").write_bytes(b"PK" * 1000)
print(scratch.path, flush=True)
sys.stdin.readline()
"""

WRITE = """
import os, sys
from pathlib import Path
from proxy.scratch import TempBeside
temp = TempBeside(Path(sys.argv[1]))
temp.path.write_bytes(b"half a bundle")
print(temp.path, flush=True)
sys.stdin.readline()
"""

STAGE = """
import sys
from pathlib import Path
from proxy.storage import Kind
from proxy.storage.fs import FsStorage
batch = FsStorage(Path(sys.argv[1])).batch()
batch.add("example.com/m", "v1.0.0", [(Kind.MOD, b"module example.com/m\\n")])
print("staged", flush=True)
sys.stdin.readline()
"""


@contextmanager
def child(script: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A Python process running `script`; yields it and the first line it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_process_directory_goes_and_a_live_one_stays(tmp_path: Path) -> None:
    with (
        child(HOLD, str(tmp_path), "x-") as (killed, dead_dir),
        child(HOLD, str(tmp_path), "x-") as (_, live_dir),
    ):
        killed.kill()
        killed.wait()
        assert (Path(dead_dir) / "half.zip").exists()  # nobody cleans up after a SIGKILL ...
        other = tmp_path / "y-1"  # another prefix
        legacy = tmp_path / "x-legacy"  # no owner lock: not known to be abandoned
        other.mkdir()
        legacy.mkdir()
        with ScratchDir(tmp_path, "x-") as mine:
            assert not Path(dead_dir).exists()  # ... until the next one is made beside it
            assert (Path(live_dir) / "half.zip").exists()
            assert mine.is_dir()
        assert not mine.exists()
        assert other.is_dir() and legacy.is_dir()


def test_directories_of_one_process_leave_each_other_alone(tmp_path: Path) -> None:
    first = ScratchDir(tmp_path, "x-")
    second = ScratchDir(tmp_path, "x-")
    sweep(tmp_path, "x-")
    assert first.path.is_dir() and second.path.is_dir()
    second.close()
    assert first.path.is_dir() and not second.path.exists()
    second.close()  # twice is fine
    first.close()
    assert list(tmp_path.iterdir()) == []


def test_a_forked_child_leaves_its_parent_directory(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from proxy.scratch import ScratchDir
        scratch = ScratchDir(Path({str(tmp_path)!r}), "x-")
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # the interpreter's exit runs finalizers: not this one
        os.waitpid(pid, 0)
        print(scratch.path.is_dir())
        """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out == "True\n"
    assert list(tmp_path.iterdir()) == []  # the parent's exit removed it


def test_a_killed_import_leaves_no_staged_blobs_in_the_vault(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    with child(STAGE, str(vault)) as (proc, line):
        assert line == "staged"
        proc.kill()
        proc.wait()
    assert [p for p in (vault / ".tmp").glob("stage-*/**/*") if p.is_file()]  # staged blobs
    storage = FsStorage(vault)  # opening the vault removes them
    assert list((vault / ".tmp").iterdir()) == []
    assert list(storage.modules()) == []
    storage.put_version("example.com/m", "v1.0.0", [(Kind.MOD, b"module example.com/m\n")])
    assert storage.get("example.com/m", "v1.0.0", Kind.MOD) == b"module example.com/m\n"
    assert os.listdir(vault / ".tmp")  # this process's own staging directory, while it lives


def test_a_killed_writer_temporary_file_goes_when_the_file_is_written_next(
    tmp_path: Path,
) -> None:
    final = tmp_path / "b.tar.gz"
    unrelated = [tmp_path / ".b.tar.gz.x.tmp", tmp_path / ".c.tar.gz.1.tmp"]
    for path in unrelated:
        path.write_bytes(b"not a temporary file of b.tar.gz's writers")
    with (
        child(WRITE, str(final)) as (killed, dead_tmp),
        child(WRITE, str(final)) as (_, live_tmp),
    ):
        killed.kill()
        killed.wait()
        assert Path(dead_tmp).read_bytes() == b"half a bundle"
        temp = TempBeside(final)
        try:
            assert not Path(dead_tmp).exists()
            assert Path(live_tmp).exists()  # another writer, still at work
            temp.path.write_bytes(b"a whole bundle")
            os.replace(temp.path, final)
        finally:
            temp.close()
        temp.close()  # twice is fine
    assert final.read_bytes() == b"a whole bundle"
    assert all(path.exists() for path in unrelated)
