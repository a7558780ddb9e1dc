"""go-vault configuration: defaults -> file (YAML/TOML) -> GO_VAULT_* environment -> flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import InputError, yaml_problem

DEFAULT_UPSTREAM = "https://proxy.golang.org"
ENV_PREFIX = "GO_VAULT_"


def upstream_from_goproxy(goproxy: str | None) -> str:
    """The proxy entries of a GOPROXY value, with their separators; `direct`/`off` dropped."""
    if not goproxy:
        return DEFAULT_UPSTREAM
    out: list[str] = []
    entry = ""
    for c in goproxy + ",":
        if c in ",|":
            entry = entry.strip()
            if entry and entry not in ("direct", "off"):
                out.append(entry + c)
            entry = ""
        else:
            entry += c
    return "".join(out).rstrip(",|") or DEFAULT_UPSTREAM


@dataclass(frozen=True, slots=True)
class VaultConfig:
    """Everything `go-vault serve` needs, loaded once and passed down (no global settings)."""

    listen: str = "127.0.0.1:3000"
    storage: str = "./vault-data"
    upstream: str = DEFAULT_UPSTREAM
    policy: str | None = None
    offline: bool = False
    base_path: str = ""  # serve under a prefix, e.g. "/go" for GOPROXY=https://host/go/
    list_ttl: float = 60.0  # seconds a version list / @latest answer is reused
    negative_ttl: float = 30.0  # seconds a not-found answer is reused
    upstream_ca: str | None = None  # CA bundle for https upstreams (default: system/certifi)
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    pool_size: int = 8  # worker threads for hashing, zip checks and file I/O
    memory_cache_mb: int = 64  # immutable .info/.mod bytes (and zips up to 1 MiB) kept in memory
    audit_log: str = "-"  # JSON lines: "-" is stdout, else a file path (appended)
    otlp_endpoint: str | None = None
    server: str = "granian"  # or "uvicorn"; chosen by bench/bench_proxy.py (pathsend for zips)
    workers: int = 1  # server processes (granian); one fetch per version (Storage.claim)
    log_level: str = "info"
    license_whitelist: str | None = None  # the seed's auditor flag: an allow-list policy
    spdx_cache_dir: str | None = None
    vulndb: str | None = None  # a built Go vulnerability database: /-/vulndb/ + its auditor
    review_required: str = "refuse"  # auditor: "refuse" (403 until approved) or "serve"
    admin_token: str | None = None  # bearer token of the /-/admin/ routes; unset: they are off
    audit_concurrency: int = 16  # cold modules fetched + audited at once by a verdict batch
    git: str | None = None  # "PATTERN=URL,…": modules served straight from git (gitsource.py)
    git_cache: str | None = None  # bare clones (default $XDG_CACHE_HOME/go-vault/git)
    git_concurrency: int = 4  # git operations at once
    sumdb: str | None = None  # "NAME URL": the checksum database relayed at /sumdb/NAME/
    sumdb_cache: str | None = None  # its tiles and answers (default $XDG_CACHE_HOME/go-vault/sumdb)
    private: str | None = None  # GOPRIVATE-style patterns never sent to the checksum database
    auth_tokens: str | None = None  # token file (proxy/auth.py); set: routes need a credential
    tls_cert: str | None = None  # PEM certificate (chain): serve https
    tls_key: str | None = None
    tls_client_ca: str | None = None  # mutual TLS: client certs must chain to this CA (uvicorn)
    mtls_scope: str = "read"  # the scope a verified client certificate grants
    rate_limit: float = 0.0  # requests per second per identity (0: off); over it -> 429
    rate_burst: int = 0  # requests allowed at once above the rate (default: 2 s worth)
    max_ingests: int = 0  # module versions fetched + checked at once (0: no cap); else 503
    header_timeout: float = 10.0  # s for a request line + headers (also a silent new connection)
    idle_timeout: float = 30.0  # s a keep-alive connection may sit idle between requests
    send_timeout: float = 60.0  # s a client may stop reading a response before it is dropped
    max_body: int = 8 << 20  # bytes of a POST body (admin, verdicts); GET/HEAD: none; else 413
    tenants: str | None = None  # tenants file (proxy/tenants.py): /t/<name>/ base paths
    tenant: str | None = None  # set by tenants.py on a tenant's own config, not by operators

    @property
    def host(self) -> str:
        host, _, _ = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1"

    @property
    def port(self) -> int:
        port = int(self.listen.rpartition(":")[2])
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range")
        return port

    def to_env(self) -> dict[str, str]:
        """The GO_VAULT_* variables that reproduce this config (for a server's worker process)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[ENV_PREFIX + f.name.upper()] = (
                    str(value).lower() if f.type == "bool" else str(value)
                )
        return out


_FIELDS = {f.name: f for f in fields(VaultConfig)}


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind == "float":
            return float(value)
        if kind == "int":
            return int(value)
        if isinstance(value, list):  # upstream given as a YAML list means ","-separated
            return ",".join(str(v) for v in value)
        return None if value is None else str(value)
    except ValueError as e:
        raise InputError(
            f"{name}: {value!r} is not a valid {kind.split(' ')[0]}", path=where
        ) from e


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise InputError(f"cannot read config file: {e.strerror}", path=str(path)) from e
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"config file does not parse: {e}", path=str(path)) from e
    except yaml.YAMLError as e:
        problem, line = yaml_problem(e)
        raise InputError(f"config file is not YAML: {problem}", path=str(path), line=line) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("config file must be a mapping of settings", path=str(path))
    return data


def load_config(
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> VaultConfig:
    """Merge the four layers; a bad key or value names its file (or variable) and the key."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {"upstream": upstream_from_goproxy(env.get("GOPROXY"))}
    if file is None and env.get(ENV_PREFIX + "CONFIG"):
        file = Path(env[ENV_PREFIX + "CONFIG"])
    if file is not None:
        for key, value in _read_file(file).items():
            name = str(key).replace("-", "_")
            if name not in _FIELDS:
                raise InputError(
                    f"unknown setting {key!r}",
                    path=str(file),
                    hint=f"known settings: {', '.join(sorted(_FIELDS))}",
                )
            values[name] = _coerce(name, value, str(file))
    for name in _FIELDS:
        var = ENV_PREFIX + name.upper()
        if var in env:
            values[name] = _coerce(name, env[var], var)
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    if values.get("tls_client_ca") and "server" not in values:
        # Only uvicorn hands the client certificate to the app (granian verifies it but does
        # not say whose it is), so mutual TLS picks uvicorn unless a server was named.
        values["server"] = "uvicorn"
    config = VaultConfig(**values)
    _validate(config)
    return config


def _validate(config: VaultConfig) -> None:
    try:
        config.port  # noqa: B018 - parsing is the check
    except ValueError as e:
        raise InputError(
            f"listen: {config.listen!r} is not HOST:PORT", hint="e.g. --listen 127.0.0.1:3000"
        ) from e
    if config.server not in ("uvicorn", "granian"):
        raise InputError(f"server: {config.server!r} is not one of uvicorn, granian")
    for name in ("pool_size", "audit_concurrency", "git_concurrency"):
        # Threads or operations at once: with none, requests wait for ever.
        if getattr(config, name) < 1:
            raise InputError(f"{name}: {getattr(config, name)} must be at least 1")
    timeouts = ("connect_timeout", "read_timeout", "header_timeout", "idle_timeout", "send_timeout")
    for name in timeouts:
        if not getattr(config, name) > 0:
            raise InputError(f"{name}: {getattr(config, name)} must be more than 0 seconds")
    for name in (
        "list_ttl",
        "negative_ttl",
        "memory_cache_mb",
        "rate_limit",
        "rate_burst",
        "max_ingests",
        "max_body",
    ):
        # 0 is meaningful for each (no reuse, no cache, off, no cap, no body); below it is not.
        if not getattr(config, name) >= 0:
            raise InputError(f"{name}: {getattr(config, name)} must be 0 or more")
    if config.workers < 1 or (config.workers > 1 and config.server != "granian"):
        raise InputError(f"workers: {config.workers} needs server granian and must be >= 1")
    if config.base_path and not config.base_path.startswith("/"):
        raise InputError(f"base_path: {config.base_path!r} must start with '/'")
    if bool(config.tls_cert) != bool(config.tls_key) or (
        config.tls_client_ca and not config.tls_cert
    ):
        raise InputError("tls_cert and tls_key go together; tls_client_ca needs both")
    if config.tls_client_ca and config.server != "uvicorn":
        raise InputError(
            "tls_client_ca: mutual TLS needs server uvicorn (granian does not pass the client"
            " certificate's subject to the app)",
            hint="--server uvicorn, or leave --server out",
        )
    if config.mtls_scope not in ("read", "verdicts", "admin"):
        raise InputError(f"mtls_scope: {config.mtls_scope!r} is not read, verdicts or admin")
