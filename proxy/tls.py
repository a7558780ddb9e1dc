"""TLS and mutual TLS for `go-vault serve`: uvicorn settings and the ASGI TLS extension."""

from __future__ import annotations

import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .config import VaultConfig


def client_cert_name(der: bytes) -> str:
    """The subject of a DER certificate as an RFC 4514 string (`CN=alice,O=Example`)."""
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


class TlsHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that fills in the ASGI TLS extension on every request.

    uvicorn leaves `scope["extensions"]["tls"]` out, so the app could not know who presented
    a client certificate. The SSL object of the connection has the verified peer certificate
    (the handshake already checked it against the client CA); its subject becomes
    `client_cert_name`, computed once per connection.
    """

    _tls_extension: dict[str, Any] | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls_extension is None:
            ssl_object = self.transport.get_extra_info("ssl_object")
            if ssl_object is None:
                return
            der = ssl_object.getpeercert(binary_form=True)
            self._tls_extension = {
                "server_cert": None,
                "client_cert_chain": [],
                "client_cert_name": client_cert_name(der) if der else None,
                "client_cert_error": None,
                "tls_version": None,
                "cipher_suite": None,
            }
        extensions: dict[str, Any] = {"tls": self._tls_extension}
        self.scope["extensions"] = extensions


def uvicorn_tls_options(config: VaultConfig) -> dict[str, Any]:
    """Keyword arguments for uvicorn.Config: certificate, key and (mTLS) the client CA."""
    if not config.tls_cert:
        return {"http": "httptools"}
    options: dict[str, Any] = {
        "http": TlsHttpToolsProtocol,
        "ssl_certfile": config.tls_cert,
        "ssl_keyfile": config.tls_key,
    }
    if config.tls_client_ca:
        options["ssl_ca_certs"] = config.tls_client_ca
        # With a token file, a certificate is one credential of two: the go command cannot
        # present one, so its developers come with a token (netrc, GOAUTH) over the same TLS.
        # A certificate presented is verified either way; without one, tokens decide.
        required = not config.auth_tokens
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
    return options
