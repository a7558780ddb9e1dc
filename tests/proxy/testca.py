"""A throw-away certificate authority for TLS tests, and a gateway served over TLS/mTLS."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from proxy.app import Gateway
from proxy.config import VaultConfig
from proxy.tls import uvicorn_tls_options


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


class TestCA:
    """A CA in `root` (ca.pem) that issues server certificates for 127.0.0.1 and client ones."""

    __test__ = False  # not a pytest class

    def __init__(self, root: Path, name: str = "go-vault test CA") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name(name, "Test")
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert = root / "ca.pem"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, cn: str, org: str = "Example", *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, org))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
        cert = builder.sign(self._key, hashes.SHA256())
        out = Issued(self.root / f"{stem}.pem", self.root / f"{stem}.key")
        out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, out.key)
        return out


class ServedGateway:
    """A Gateway served by uvicorn in a thread with the same TLS options as `go-vault serve`."""

    def __init__(self, gateway: Gateway, app: Any = None) -> None:
        self.gateway = gateway
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        scheme = "https" if gateway.config.tls_cert else "http"
        self.url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}{gateway.config.base_path}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                gateway if app is None else app,  # app: e.g. a TenantRouter around gateway
                loop="uvloop",
                lifespan="on",
                log_level="warning",
                **uvicorn_tls_options(gateway.config),
            )
        )
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(15)


@contextmanager
def serving(config: VaultConfig) -> Iterator[ServedGateway]:
    served = ServedGateway(Gateway(config))
    try:
        yield served
    finally:
        served.stop()
