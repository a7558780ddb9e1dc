"""go-vault config: a value of the wrong type, or a table where a setting is expected, is
refused at its line (exit 2) instead of truncated or reported without a line."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import load_config
from scanner.errors import InputError


def refusal(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as e:
        load_config(path, env={})
    return f"{e.value.path}:{e.value.line}: {e.value.message} ({e.value.hint})"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("offline: true\npool_size: 1.5\n", 2, "pool_size: 1.5 is not a valid int"),
        ("pool_size: true\n", 1, "pool_size: True is not a valid int"),
        ("workers: [2]\n", 1, "workers: [2] is not a valid int"),
    ],
)
def test_an_int_setting_takes_only_a_whole_number(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    said = refusal(tmp_path, "c.yml", text)
    assert said.startswith(f"{tmp_path / 'c.yml'}:{line}: {message}"), said
    assert "whole number" in said


def test_whole_numbers_still_count(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("pool_size: 4.0\nmemory_cache_mb: '32'\n")
    config = load_config(path, env={})
    assert (config.pool_size, config.memory_cache_mb) == (4, 32)


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("j.toml", 'offline = true\n\n[server]\nlisten = "x"\n', 3),
        ("j.toml", 'offline = true\n[ "server" ]\n', 2),
        ("j.toml", 'offline = true\nserver.listen = "x"\n', 2),
        ("j.toml", "offline = true\nserver = { listen = 'x' }\n", 2),
        ("j.toml", 'offline = true\n[[server]]\nlisten = "x"\n', 2),
        ("j.yml", "offline: true\nserver:\n  listen: x\n", 2),
    ],
)
def test_a_table_where_a_setting_is_expected(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    said = refusal(tmp_path, name, text)
    assert said.startswith(f"{tmp_path / name}:{line}: server: a table where a value is"), said
    assert "top-level keys" in said


def test_toml_keys_after_a_table_keep_their_lines(tmp_path: Path) -> None:
    """A key under a [table] is not a setting: an unknown top-level table is named at its
    header, and settings before it keep theirs."""
    said = refusal(tmp_path, "k.toml", "pool_size = 1.5\n[x]\npool_size = 2\n")
    assert said.startswith(f"{tmp_path / 'k.toml'}:1: pool_size: 1.5"), said
    said = refusal(tmp_path, "u.toml", 'offline = true\n[extras]\nlisten = "x"\n')
    assert said.startswith(f"{tmp_path / 'u.toml'}:2: unknown setting 'extras'"), said
