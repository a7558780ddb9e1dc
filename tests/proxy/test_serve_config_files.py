"""`go-vault serve` refuses a TLS, CA or audit-log file it could not use before it starts:
exit 2 naming the setting, where it was set and the file (it was a traceback, exit 3)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from serveproc import SERVE
from testca import Issued, TestCA

from proxy.config import load_config


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestCA, Issued]:
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    return ca, ca.issue("server", "127.0.0.1", server=True)


def refused(tmp: Path, *args: str) -> str:
    """serve's stderr, once it has exited 2 without a traceback."""
    proc = subprocess.run(
        [*SERVE, "--listen", "127.0.0.1:0", "--storage", str(tmp / "vault"), "--offline", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "a bug" not in proc.stderr, proc.stderr
    return proc.stderr


def test_missing_tls_cert(tmp_path: Path, pair: tuple[TestCA, Issued]) -> None:
    missing = tmp_path / "nope.pem"
    err = refused(tmp_path, "--tls-cert", str(missing), "--tls-key", str(pair[1].key))
    assert f"--tls-cert: tls_cert: cannot read '{missing}': No such file" in err
    assert "readable PEM certificate" in err


def test_swapped_cert_and_key(tmp_path: Path, pair: tuple[TestCA, Issued]) -> None:
    _, server = pair
    err = refused(tmp_path, "--tls-cert", str(server.key), "--tls-key", str(server.cert))
    assert f"--tls-cert: tls_cert '{server.key}' and tls_key '{server.cert}'" in err
    assert "swapped" in err


def test_key_of_another_pair(tmp_path: Path, pair: tuple[TestCA, Issued]) -> None:
    ca, server = pair
    other = ca.issue("other", "127.0.0.1", server=True)
    err = refused(tmp_path, "--tls-cert", str(server.cert), "--tls-key", str(other.key))
    assert "are not a certificate and its private key" in err


def test_missing_upstream_ca(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    err = refused(tmp_path, "--upstream-ca", str(missing))
    assert f"--upstream-ca: upstream_ca: cannot read '{missing}'" in err


def test_upstream_ca_that_is_no_pem_bundle(tmp_path: Path, pair: tuple[TestCA, Issued]) -> None:
    err = refused(tmp_path, "--upstream-ca", str(pair[1].key))
    assert f"upstream_ca: '{pair[1].key}' holds no PEM CA certificate" in err


def test_audit_log_in_a_missing_directory(tmp_path: Path) -> None:
    log = tmp_path / "nodir" / "sub" / "a.log"
    err = refused(tmp_path, "--audit-log", str(log))
    assert f"--audit-log: audit_log: the directory of '{log}' does not exist" in err
    assert not (tmp_path / "nodir").exists()


def test_a_file_set_in_the_config_file_names_its_line(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    config = tmp_path / "vault.yml"
    config.write_text(f"offline: true\nupstream_ca: {missing}\n")
    err = refused(tmp_path, "--config", str(config))
    assert f"{config}:2: upstream_ca: cannot read '{missing}'" in err


def test_a_file_set_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*SERVE, "--listen", "127.0.0.1:0", "--storage", str(tmp_path / "v"), "--offline"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "GO_VAULT_UPSTREAM_CA": str(tmp_path)},
    )
    assert proc.returncode == 2, proc.stderr
    assert f"GO_VAULT_UPSTREAM_CA: upstream_ca: cannot read '{tmp_path}'" in proc.stderr


def test_other_commands_do_not_open_the_servers_files(tmp_path: Path) -> None:
    """rollback, approve, token… read the same config, maybe as a user who cannot read the
    TLS key: only serve checks the files."""
    flags = {"tls_cert": str(tmp_path / "c.pem"), "tls_key": str(tmp_path / "k.pem")}
    assert load_config(env={}, flags=flags).tls_cert == flags["tls_cert"]
