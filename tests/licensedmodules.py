"""Go modules with real license files (MIT, GPL-3.0-only) for the CI-integration and env tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from goproxytree import GoProxyTree


def _corpus() -> ModuleType:
    # Realistic license files rendered from the SPDX XML (tests/scanner/licenses/corpus.py).
    path = Path(__file__).parent / "scanner" / "licenses" / "corpus.py"
    spec = importlib.util.spec_from_file_location("license_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("license_corpus", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def publish_modules(tree: GoProxyTree) -> None:
    render = _corpus().render
    for name, spdx_id in (("mit", "MIT"), ("gpl", "GPL-3.0-only")):
        path = f"example.com/{name}"
        tree.add_module(
            path,
            "v1.0.0",
            {
                "go.mod": f"module {path}\n\ngo 1.21\n",
                f"{name}.go": f'package {name}\n\nfunc Name() string {{ return "{name}" }}\n',
                "LICENSE": render(spdx_id),
            },
        )
