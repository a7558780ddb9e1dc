"""A module version with a real Go advisory (GO-2020-0001, gin < 1.6.0) and its database."""

from __future__ import annotations

import shutil
from pathlib import Path

from goproxytree import GoProxyTree
from licensedmodules import _corpus

from scanner.vulndb.layout import build_layout

OSV_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "go-vulndb" / "osv"
ADVISORY = "GO-2020-0001"  # gin < 1.6.0: the default logger does not sanitise input
ALIAS = "CVE-2020-36567"
GIN = "github.com/gin-gonic/gin"

GIN_GO = """package gin

// Engine is the framework's instance.
type Engine struct{}

// Default returns an Engine with the logger attached.
func Default() *Engine { return &Engine{} }
"""

APP_GOMOD = f"""module example.com/app

go 1.21

require (
\texample.com/mit v1.0.0
\t{GIN} v1.5.0
)
"""

# Calls gin.Default, the advisory's symbol: reachability `called`, which the default policy fails.
APP_MAIN_GO = f"""package main

import (
\t"example.com/mit"
\t"{GIN}"
)

func main() {{
\tprintln(mit.Name())
\t_ = gin.Default()
}}
"""


def publish_gin(tree: GoProxyTree) -> None:
    """gin v1.5.0 under an MIT license (licensedmodules publishes example.com/mit beside it)."""
    tree.add_module(
        GIN,
        "v1.5.0",
        {
            "go.mod": f"module {GIN}\n\ngo 1.19\n",
            "LICENSE": _corpus().render("MIT"),
            "gin.go": GIN_GO,
        },
    )


def build_vulndb(out: Path) -> Path:
    """The served layout (index/, ID/) built from the real OSV entry of the shared database."""
    src = out.parent / f"{out.name}-osv"
    src.mkdir(parents=True)
    shutil.copy(OSV_DIR / f"{ADVISORY}.json", src / f"{ADVISORY}.json")
    build_layout(src, out)
    return out
