"""Reading a database over real HTTP and file://, with the cache keyed by `modified`."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scanner.errors import InputError, OperationalError
from scanner.vulndb.database import DatabaseUnreachable, load_index
from scanner.vulndb.layout import build_layout

IDS = ["GO-2020-0001", "GO-2020-0006", "GO-2021-0072", "GO-2022-0969", "GO-2022-0617"]


class _Server:
    """A static file server on 127.0.0.1:0 that records the paths it was asked for."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        self.failing = False  # answer 503 to everything, as an overloaded server would
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                server.requests.append(self.path)

            def send_head(self) -> Any:
                if server.failing:
                    self.send_error(503)
                    return None
                return super().send_head()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def small_db(osv_dir: Path, tmp_path: Path) -> Path:
    src = tmp_path / "osv"
    src.mkdir()
    for i in IDS:
        shutil.copy2(osv_dir / f"{i}.json", src / f"{i}.json")
    build_layout(src, tmp_path / "db", modified="2026-01-01T00:00:00Z")
    return tmp_path / "db"


@pytest.fixture
def server(small_db: Path) -> Iterator[_Server]:
    s = _Server(small_db)
    yield s
    s.stop()


def test_http_fetches_only_what_the_build_list_needs(server: _Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index = load_index(server.url, cache_dir=cache, modules=["github.com/gin-gonic/gin"])
    assert set(index.entries) == {"GO-2020-0001"}
    assert index.modified == "2026-01-01T00:00:00Z" and not index.from_cache
    # govulncheck's endpoints: the gzip twins
    assert sorted(server.requests) == [
        "/ID/GO-2020-0001.json.gz",
        "/index/db.json.gz",
        "/index/modules.json.gz",
    ]
    server.requests.clear()
    again = load_index(server.url, cache_dir=cache, modules=["github.com/gin-gonic/gin", "stdlib"])
    # same `modified`: the cache answers for gin; only the new stdlib entry is fetched
    assert sorted(server.requests) == ["/ID/GO-2022-0969.json.gz", "/index/db.json.gz"]
    assert set(again.entries) == {"GO-2020-0001", "GO-2022-0969"}


def test_offline_runs_use_the_cache(server: _Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_index(server.url, cache_dir=cache)
    server.stop()
    # the server is gone: fall back to the cache, and say so
    index = load_index(server.url, cache_dir=cache, modules=["github.com/miekg/dns"])
    assert index.from_cache and set(index.entries) == {"GO-2020-0006"}
    assert load_index(server.url, cache_dir=cache, offline=True).from_cache
    with pytest.raises(DatabaseUnreachable):
        load_index(server.url, cache_dir=tmp_path / "empty-cache")
    with pytest.raises(OperationalError, match="no cached copy"):
        load_index(server.url, cache_dir=tmp_path / "empty-cache", offline=True)


def test_offline_cache_without_the_entries_says_what_is_missing(
    server: _Server, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    load_index(server.url, cache_dir=cache, modules=["github.com/gin-gonic/gin"])
    with pytest.raises(OperationalError, match="lacks 1 entries \\(GO-2021-0072\\)"):
        load_index(
            server.url, cache_dir=cache, modules=["github.com/docker/distribution"], offline=True
        )


def test_a_new_modified_time_refreshes_the_cache(
    osv_dir: Path, small_db: Path, server: _Server, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    load_index(server.url, cache_dir=cache, modules=["github.com/gin-gonic/gin"])
    # republish: GO-2020-0001 now says it is fixed in 1.5.0, and the database time moves on
    src = tmp_path / "osv"
    entry = (src / "GO-2020-0001.json").read_text().replace('"fixed": "1.6.0"', '"fixed": "1.5.0"')
    (src / "GO-2020-0001.json").write_text(entry)
    build_layout(src, small_db, modified="2026-02-01T00:00:00Z")
    server.requests.clear()
    index = load_index(server.url, cache_dir=cache, modules=["github.com/gin-gonic/gin"])
    assert index.modified == "2026-02-01T00:00:00Z"
    assert "/ID/GO-2020-0001.json.gz" in server.requests
    (affected,) = index.entries["GO-2020-0001"].affected
    assert affected.ranges[0][-1].version == "v1.5.0"


def test_file_urls_and_plain_paths(small_db: Path, tmp_path: Path) -> None:
    by_url = load_index(small_db.as_uri(), cache_dir=tmp_path / "c")
    by_path = load_index(str(small_db))
    assert set(by_url.entries) == set(by_path.entries) == set(IDS)
    # withdrawn entries are loaded (their id resolves) but match nothing
    assert "k8s.io/kubernetes" not in by_url.by_module
    with pytest.raises(InputError, match="does not exist"):  # a path to fix: exit 2
        load_index((tmp_path / "nowhere").as_uri())


def test_a_failing_server_falls_back_to_the_cache(server: _Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_index(server.url, cache_dir=cache, modules=["stdlib"])
    server.failing = True
    index = load_index(server.url, cache_dir=cache, modules=["stdlib"])
    assert index.from_cache and set(index.entries) == {"GO-2022-0969"}
    with pytest.raises(DatabaseUnreachable, match="answered 503"):
        load_index(server.url, cache_dir=tmp_path / "other")


def test_cli_fetch_fills_the_cache_for_offline_runs(server: _Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.run(
        ["goproxy-scan", "vulndb", "fetch", server.url, "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"cached {len(IDS)} entries of {server.url}" in proc.stdout
    server.stop()
    assert set(load_index(server.url, cache_dir=cache, offline=True).entries) == set(IDS)


def test_offline_reads_a_local_directory_directly(
    osv_dir: Path, small_db: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    # no cached copy: a directory needs no network, --offline reads it
    index = load_index(str(small_db), cache_dir=cache, offline=True)
    assert not index.from_cache and set(index.entries) == set(IDS)
    # the directory is rebuilt with one more entry: offline sees it, not the older cache
    src = tmp_path / "osv-more"
    src.mkdir()
    for i in (*IDS, "GO-2023-1737"):
        shutil.copy2(osv_dir / f"{i}.json", src / f"{i}.json")
    shutil.rmtree(small_db)
    build_layout(src, small_db, modified="2026-02-01T00:00:00Z")
    again = load_index(small_db.as_uri(), cache_dir=cache, offline=True)
    assert again.modified == "2026-02-01T00:00:00Z" and "GO-2023-1737" in again.entries
    # a directory that is not there is the user's error, not a silent older cache
    shutil.rmtree(small_db)
    with pytest.raises(InputError, match="does not exist"):
        load_index(str(small_db), cache_dir=cache, offline=True)
    # not offline, it was there before: its cached copy answers, as an unreachable one's does
    assert load_index(str(small_db), cache_dir=cache).from_cache
