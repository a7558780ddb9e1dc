"""go-vault config layering: defaults -> file -> GO_VAULT_* -> flags; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import VaultConfig, load_config, upstream_from_goproxy
from scanner.errors import InputError


def test_embedded_defaults() -> None:
    config = load_config(env={})
    assert config.storage == "./vault-data"
    assert config.upstream == "https://proxy.golang.org"
    assert config.policy is None and not config.offline


def test_upstream_defaults_to_the_proxy_entries_of_goproxy() -> None:
    config = load_config(env={"GOPROXY": "https://a.example,direct"})
    assert config.upstream == "https://a.example"
    assert upstream_from_goproxy("https://a|https://b,direct|off") == "https://a|https://b"
    assert upstream_from_goproxy("direct") == "https://proxy.golang.org"


@pytest.mark.parametrize("suffix", [".yml", ".toml"])
def test_each_layer_overrides_the_one_before(tmp_path: Path, suffix: str) -> None:
    file = tmp_path / f"vault{suffix}"
    if suffix == ".yml":
        file.write_text("storage: /srv/vault\nlist-ttl: 5\nupstream: [https://a, https://b]\n")
    else:
        file.write_text('storage = "/srv/vault"\nlist_ttl = 5\nupstream = "https://a,https://b"\n')
    assert load_config(file, env={}).upstream == "https://a,https://b"
    env = {"GO_VAULT_STORAGE": "/env/vault", "GO_VAULT_OFFLINE": "true"}
    config = load_config(file, env=env, flags={"storage": "/flag/vault", "offline": None})
    assert config == VaultConfig(
        storage="/flag/vault", list_ttl=5.0, upstream="https://a,https://b", offline=True
    )


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "v.yaml"
    file.write_text("listen: 0.0.0.0:8443\n")
    config = load_config(env={"GO_VAULT_CONFIG": str(file)})
    assert (config.host, config.port) == ("0.0.0.0", 8443)


def test_unknown_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    file = tmp_path / "vault.yml"
    file.write_text("storge: /srv\n")
    with pytest.raises(InputError) as e:
        load_config(file, env={})
    assert str(file) in str(e.value) and "'storge'" in str(e.value)


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(InputError) as e:
        load_config(env={"GO_VAULT_LIST_TTL": "soon"})
    assert "GO_VAULT_LIST_TTL" in str(e.value)
    for listen in ("nowhere", "127.0.0.1:99999", "127.0.0.1:-1"):
        with pytest.raises(InputError, match="HOST:PORT"):
            load_config(env={}, flags={"listen": listen})


def test_config_is_frozen() -> None:
    config = load_config(env={})
    with pytest.raises(AttributeError):
        config.offline = True  # type: ignore[misc]


def test_a_config_file_that_is_not_yaml_is_one_line_with_its_line(tmp_path: Path) -> None:
    file = tmp_path / "go-vault.yml"
    file.write_text("listen: 127.0.0.1:3000\nupstream: [\n")
    with pytest.raises(InputError) as e:
        load_config(file, env={})
    assert str(e.value).startswith(f"{file}:3: config file is not YAML: ")
    assert "\n" not in str(e.value)
