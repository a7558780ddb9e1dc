"""go-vault's YAML files refuse a date no calendar has at its line (PyYAML raised ValueError
from safe_load for an unquoted `2027-13-01`: a traceback, exit 3, instead of an input error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import load_config
from proxy.tenants import load_tenants
from scanner.errors import InputError

NOT_A_DATE = "is not a date (use YYYY-MM-DD; quote a value that is not a date)"


@pytest.mark.parametrize("bad", ["2027-13-01", "2027-02-30"])
def test_tenants_file_refuses_an_impossible_date(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "tenants.yml"
    path.write_text(f"acme:\n  quota_modules: 3\nbeta:\n  quota_bytes: {bad}\n")
    with pytest.raises(InputError) as e:
        load_tenants(path)
    assert e.value.path == str(path)
    assert e.value.line == 4
    assert f"{bad} {NOT_A_DATE}" in str(e.value)


@pytest.mark.parametrize("bad", ["2027-13-01", "2027-02-30"])
def test_config_file_refuses_an_impossible_date(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "go-vault.yml"
    path.write_text(f"storage: {tmp_path / 'vault'}\nlisten: {bad}\n")
    with pytest.raises(InputError) as e:
        load_config(path, env={})
    assert e.value.path == str(path)
    assert e.value.line == 2
    assert f"{bad} {NOT_A_DATE}" in str(e.value)
