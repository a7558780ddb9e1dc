"""One compiled SPDX template index per test session, cached in a private directory."""

from __future__ import annotations

import pytest

from scanner.licenses import TemplateIndex, load_index


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory) -> TemplateIndex:
    return load_index(tmp_path_factory.mktemp("spdx-cache"))
