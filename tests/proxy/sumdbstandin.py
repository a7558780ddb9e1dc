"""A loopback stand-in for a checksum database: x/mod's own sumdb test server, built with go.

The Go distribution vendors golang.org/x/mod (cmd/vendor); the stand-in program is compiled
against that copy in a temp dir (nothing is stored in this repository), signs its tree with a
fresh key and logs every request path, so a test can prove what reached the database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from goproxytree import go_binary

_MAIN = """package main

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	name, records, logFile := os.Args[1], os.Args[2], os.Args[3]
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		panic(err)
	}
	gosum := func(path, vers string) ([]byte, error) {
		data, err := os.ReadFile(records)
		if err != nil {
			return nil, err
		}
		var out []byte
		for _, line := range strings.Split(string(data), "\\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == path && (f[1] == vers || f[1] == vers+"/go.mod") {
				out = append(out, line+"\\n"...)
			}
		}
		if out == nil {
			return nil, fmt.Errorf("%s@%s: %w", path, vers, os.ErrNotExist)
		}
		return out, nil
	}
	server := sumdb.NewServer(sumdb.NewTestServer(skey, gosum))
	var mu sync.Mutex
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("http://%s %s\\n", ln.Addr(), vkey)
	os.Stdout.Sync()
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fmt.Fprintln(log, r.URL.Path)
		mu.Unlock()
		server.ServeHTTP(w, r)
	}))
}
"""


def build_standin(work: Path, env: dict[str, str]) -> Path:
    """Compile the stand-in into `work` (x/mod from the Go distribution's cmd/vendor)."""
    goroot = subprocess.run(
        [go_binary(), "env", "GOROOT"], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    xmod = work / "xmod"
    shutil.copytree(Path(goroot) / "src" / "cmd" / "vendor" / "golang.org" / "x" / "mod", xmod)
    (xmod / "go.mod").write_text("module golang.org/x/mod\n\ngo 1.24\n")
    main = work / "standin"
    main.mkdir()
    (main / "go.mod").write_text(
        "module standin\n\ngo 1.24\n\nrequire golang.org/x/mod v0.0.0\n\n"
        "replace golang.org/x/mod => ../xmod\n"
    )
    (main / "main.go").write_text(_MAIN)
    binary = work / "sumdb-standin"
    # The user's build cache (safe to share): a warm one makes this build take seconds.
    user_cache = subprocess.run(
        [go_binary(), "env", "GOCACHE"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not user_cache.startswith("/"):  # no usable user cache ("off", no HOME): a private one
        user_cache = str(work / "gocache")
    subprocess.run(
        [go_binary(), "build", "-mod=mod", "-o", str(binary), "."],
        cwd=main,
        env={**env, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": user_cache},
        check=True,
        capture_output=True,
        timeout=300,
    )
    return binary


class SumdbStandin:
    """A running stand-in: `url`, `vkey` (for GOSUMDB), `records` (go.sum lines it knows),
    `requests()` (every path asked so far)."""

    def __init__(self, binary: Path, work: Path, name: str) -> None:
        self.records = work / "records.txt"
        self.records.write_text("")
        self.log = work / "requests.log"
        self.log.write_text("")
        self.proc = subprocess.Popen(
            [str(binary), name, str(self.records), str(self.log)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        assert self.proc.stdout is not None
        self.url, self.vkey = self.proc.stdout.readline().split()

    def add(self, lines: str) -> None:
        with self.records.open("a") as f:
            f.write(lines)

    def requests(self) -> list[str]:
        return self.log.read_text().split()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
