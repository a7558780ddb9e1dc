"""go-vault configuration: defaults -> file (YAML/TOML) -> GO_VAULT_* environment -> flags."""

from __future__ import annotations

import difflib
import os
import re
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import GoProxyScanError, InputError, yaml_problem
from scanner.yamlfile import safe_load

DEFAULT_UPSTREAM = "https://proxy.golang.org"
ENV_PREFIX = "GO_VAULT_"
UPSTREAM_SCHEMES = ("http://", "https://", "file://")
# The levels every server takes (the --log-level choices): granian's, uvicorn's and logging's.
LOG_LEVELS = ("debug", "info", "warning", "error")
# GO_VAULT_* variables that are not settings, read where they are used: any other name under
# the prefix is a typo (GO_VAULT_OFLINE) that would silently leave its setting at the default.
OTHER_VARIABLES = frozenset(
    ENV_PREFIX + name
    for name in (
        "CONFIG",  # the config file (load_config)
        "URL",  # a running go-vault (verdict, approve --proxy)
        "TOKEN",  # its bearer token (verdict)
        "BUNDLE_SIGN_KEY",  # sync --sign-key
        "BUNDLE_VERIFY_KEY",  # import --verify-key
        "BUNDLE_SOURCE",  # the source a bundle's manifest names (sync)
        "S3_ENDPOINT",  # S3 storage (proxy/storage/s3.py)
        "S3_REGION",
        "S3_PRESIGN",
    )
)


def goproxy_entries(spec: str) -> list[tuple[str, str]]:
    """A GOPROXY-style list as (entry, the separator after it: "," or "|"), blanks dropped."""
    out: list[tuple[str, str]] = []
    entry = ""
    for c in spec + ",":
        if c in ",|":
            if entry.strip():
                out.append((entry.strip(), c))
            entry = ""
        else:
            entry += c
    return out


def is_upstream_url(entry: str) -> bool:
    """Whether a GOPROXY entry (not `direct`/`off`) is one go-vault can fetch from."""
    return entry.startswith(UPSTREAM_SCHEMES)


def upstream_from_goproxy(goproxy: str | None) -> str:
    """The proxy entries of a GOPROXY value, with their separators; `direct`/`off` dropped."""
    if not goproxy:
        return DEFAULT_UPSTREAM
    kept = "".join(e + sep for e, sep in goproxy_entries(goproxy) if e not in ("direct", "off"))
    return kept.rstrip(",|") or DEFAULT_UPSTREAM


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

# Where a setting's value came from, for messages: (config file, line) or (GO_VAULT_* variable,
# None) or (--flag, None); ("GOPROXY", None) for an upstream taken from GOPROXY.
Where = tuple[str, int | None]


def _coerce(name: str, value: Any, where: Where) -> Any:
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
            # int() truncated a YAML/TOML float (pool_size: 1.5 was 1) and took a bool.
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if isinstance(value, list):  # upstream given as a YAML list means ","-separated
            return ",".join(str(v) for v in value)
        return None if value is None else str(value)
    except (ValueError, TypeError) as e:  # TypeError: a list, e.g. pool_size: [8]
        raise InputError(
            f"{name}: {value!r} is not a valid {kind.split(' ')[0]}",
            path=where[0],
            line=where[1],
            hint="give a whole number" if kind == "int" else None,
        ) from e


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The settings of a config file, and the line each key is on (for messages)."""
    try:
        text = path.read_text()
    except OSError as e:
        raise InputError(f"cannot read config file: {e.strerror}", path=str(path)) from e
    toml = path.suffix == ".toml"
    try:
        data = tomllib.loads(text) if toml else safe_load(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"config file does not parse: {e}", path=str(path)) from e
    except yaml.YAMLError as e:
        problem, line = yaml_problem(e)
        raise InputError(f"config file is not YAML: {problem}", path=str(path), line=line) from e
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise InputError("config file must be a mapping of settings", path=str(path))
    return data, _toml_key_lines(text) if toml else _yaml_key_lines(text)


def _yaml_key_lines(text: str) -> dict[str, int]:
    node = yaml.compose(text)  # parsed already: this cannot fail
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def _toml_key_lines(text: str) -> dict[str, int]:
    # tomllib keeps no positions; settings are top-level keys, so a `key =` (or dotted
    # `key.sub =`) line before the first [table] is theirs, and a `[key]` or `[key.sub]` header
    # is the line of top-level key `key` (a table, which load_config refuses by that line).
    lines: dict[str, int] = {}
    key = r"""(["']?)([A-Za-z0-9_-]+)\1"""
    in_table = False
    for n, line in enumerate(text.splitlines(), 1):
        header = re.match(rf"\s*\[\[?\s*{key}", line)
        if header:
            in_table = True
            lines.setdefault(header.group(2), n)
            continue
        found = None if in_table else re.match(rf"\s*{key}\s*[.=]", line)
        if found:
            lines.setdefault(found.group(2), n)
    return lines


def _check_variables(env: Mapping[str, str]) -> None:
    """Refuse a GO_VAULT_* variable that is neither a setting nor one go-vault reads elsewhere:
    a misspelt one (GO_VAULT_OFLINE) would leave its setting at the default, unnoticed."""
    known = sorted({ENV_PREFIX + name.upper() for name in _FIELDS} | OTHER_VARIABLES)
    for var in sorted(env):
        if var.startswith(ENV_PREFIX) and var not in known:
            # Compared without the prefix, which every name shares.
            names = [k.removeprefix(ENV_PREFIX) for k in known]
            close = difflib.get_close_matches(var.removeprefix(ENV_PREFIX), names, n=1)
            raise InputError(
                "unknown go-vault variable",
                path=var,
                hint=f"did you mean {ENV_PREFIX}{close[0]}?"
                if close
                else f"settings are {ENV_PREFIX}<KEY> for the keys of the config file; unset it",
            )


def load_config(
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    *,
    files: bool = False,
) -> VaultConfig:
    """Merge the four layers; a bad key or value names its file (or variable) and the key.

    `files`: also check the files the server opens (TLS pair, CA bundles, audit log), as
    `go-vault serve` does; the other commands that read the same config open none of them
    (and may run as a user who cannot read the TLS key).
    """
    env = os.environ if env is None else env
    _check_variables(env)
    values: dict[str, Any] = {"upstream": upstream_from_goproxy(env.get("GOPROXY"))}
    sources: dict[str, Where] = {"upstream": ("GOPROXY", None)} if env.get("GOPROXY") else {}
    if file is None and env.get(ENV_PREFIX + "CONFIG"):
        file = Path(env[ENV_PREFIX + "CONFIG"])
    if file is not None:
        data, lines = _read_file(file)
        for key, value in data.items():
            name = str(key).replace("-", "_")
            where = (str(file), lines.get(str(key)))
            if name not in _FIELDS:
                raise InputError(
                    f"unknown setting {key!r}",
                    path=where[0],
                    line=where[1],
                    hint=f"known settings: {', '.join(sorted(_FIELDS))}",
                )
            if isinstance(value, dict) or (
                isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
            ):
                # A TOML [table] or [[table]], a YAML mapping: every setting is a top-level key.
                raise InputError(
                    f"{key}: a table where a value is expected",
                    path=where[0],
                    line=where[1],
                    hint="settings are top-level keys, not grouped in tables: e.g. "
                    + (
                        f'{key} = "VALUE" before any [table]'
                        if file.suffix == ".toml"
                        else f"{key}: VALUE"
                    ),
                )
            values[name] = _coerce(name, value, where)
            sources[name] = where
    for name in _FIELDS:
        var = ENV_PREFIX + name.upper()
        if var in env:
            values[name] = _coerce(name, env[var], (var, None))
            sources[name] = (var, None)
    for name, value in (flags or {}).items():
        if value is not None:
            flag = f"--{name.replace('_', '-')}"
            values[name] = _coerce(name, value, (flag, None))
            sources[name] = (flag, None)
    if values.get("tls_client_ca") and "server" not in values:
        # Only uvicorn hands the client certificate to the app (granian verifies it but does
        # not say whose it is), so mutual TLS picks uvicorn unless a server was named.
        values["server"] = "uvicorn"
    if isinstance(values.get("log_level"), str):
        values["log_level"] = values["log_level"].strip().lower()  # INFO works as info
    config = VaultConfig(**values)
    _validate(config, _Checker(sources))
    if files:
        _check_files(config, _Checker(sources))
    return config


class _Checker:
    """Refusals of bad values, each naming where the value came from."""

    def __init__(self, sources: dict[str, Where]) -> None:
        self.sources = sources

    def refuse(self, name: str, message: str, hint: str | None = None) -> InputError:
        path, line = self.sources.get(name, (None, None))
        return InputError(message, path=path, line=line, hint=hint)

    def example(self, name: str, value: str) -> str:
        """How to write `value` for `name` where the bad one was written (for a hint)."""
        path = self.sources.get(name, ("--", None))[0]
        if path.endswith(".toml"):
            return f'{name} = "{value}"'
        if " " in value:
            value = f"'{value}'"
        if path.startswith("--"):
            return f"--{name.replace('_', '-')} {value}"
        if path == "GOPROXY":
            return f"GOPROXY={value}"
        if path.startswith(ENV_PREFIX):
            return f"{path}={value}"
        return f"{name}: {value}"


def _validate(config: VaultConfig, check: _Checker) -> None:
    refuse = check.refuse
    try:
        config.port  # noqa: B018 - parsing is the check
    except ValueError as e:
        raise refuse(
            "listen",
            f"listen: {config.listen!r} is not HOST:PORT",
            hint=f"e.g. {check.example('listen', '127.0.0.1:3000')}",
        ) from e
    bad = [e for e, _ in goproxy_entries(config.upstream) if e not in ("direct", "off")]
    bad = [e for e in bad if not is_upstream_url(e)]
    if bad:
        raise refuse(
            "upstream",
            f"upstream: {bad[0]!r} is not an http(s):// or file:// URL",
            hint=f"a GOPROXY-style list, e.g. {check.example('upstream', DEFAULT_UPSTREAM)}",
        )
    if config.log_level not in LOG_LEVELS:
        raise refuse(
            "log_level",
            f"log_level: {config.log_level!r} is not one of {', '.join(LOG_LEVELS)}",
        )
    if config.review_required not in ("refuse", "serve"):  # proxy.auditor.ReviewMode
        raise refuse(
            "review_required",
            f"review_required: {config.review_required!r} is not refuse or serve",
            hint="refuse: 403 until approved; serve: serve with X-Go-Module-Verdict",
        )
    if config.server not in ("uvicorn", "granian"):
        raise refuse("server", f"server: {config.server!r} is not one of uvicorn, granian")
    for name in ("pool_size", "audit_concurrency", "git_concurrency"):
        # Threads or operations at once: with none, requests wait for ever.
        if getattr(config, name) < 1:
            raise refuse(name, f"{name}: {getattr(config, name)} must be at least 1")
    timeouts = ("connect_timeout", "read_timeout", "header_timeout", "idle_timeout", "send_timeout")
    for name in timeouts:
        if not getattr(config, name) > 0:
            raise refuse(name, f"{name}: {getattr(config, name)} must be more than 0 seconds")
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
            raise refuse(name, f"{name}: {getattr(config, name)} must be 0 or more")
    if config.workers < 1 or (config.workers > 1 and config.server != "granian"):
        raise refuse("workers", f"workers: {config.workers} needs server granian and must be >= 1")
    if config.base_path and not config.base_path.startswith("/"):
        raise refuse("base_path", f"base_path: {config.base_path!r} must start with '/'")
    if bool(config.tls_cert) != bool(config.tls_key) or (
        config.tls_client_ca and not config.tls_cert
    ):
        given = "tls_cert" if config.tls_cert else "tls_key" if config.tls_key else "tls_client_ca"
        raise refuse(given, "tls_cert and tls_key go together; tls_client_ca needs both")
    if config.tls_client_ca and config.server != "uvicorn":
        raise refuse(
            "server",
            "tls_client_ca: mutual TLS needs server uvicorn (granian does not pass the client"
            " certificate's subject to the app)",
            hint="--server uvicorn, or leave --server out",
        )
    if config.sumdb:
        from .sumdb import parse_sumdb

        if parse_sumdb(config.sumdb) is None:
            raise refuse(
                "sumdb",
                f"sumdb: {config.sumdb!r} is not 'NAME URL'",
                hint=f"e.g. {check.example('sumdb', 'sum.golang.org https://sum.golang.org')}",
            )
    if config.git:
        from .gitsource import parse_git_routes

        try:
            parse_git_routes(config.git)
        except GoProxyScanError as e:
            raise refuse("git", e.message, hint=e.hint) from e
    if config.mtls_scope not in ("read", "verdicts", "admin"):
        raise refuse(
            "mtls_scope", f"mtls_scope: {config.mtls_scope!r} is not read, verdicts or admin"
        )


def _check_files(config: VaultConfig, check: _Checker) -> None:
    """Refuse a TLS, CA or audit-log file the server could not use, naming the setting, where
    it was set and the file: otherwise the server failed as it started, with a traceback."""
    for name, what in (
        ("tls_cert", "PEM certificate (chain)"),
        ("tls_key", "PEM private key"),
        ("tls_client_ca", "PEM CA bundle for client certificates"),
        ("upstream_ca", "PEM CA bundle for https upstreams"),
    ):
        path = getattr(config, name)
        if path:
            _readable(check, name, path, what)
    if config.tls_cert and config.tls_key:
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            # A password callback, so an encrypted key is refused instead of prompted for.
            server.load_cert_chain(config.tls_cert, config.tls_key, password=lambda: b"")
        except ssl.SSLError as e:
            raise check.refuse(
                "tls_cert",
                f"tls_cert {config.tls_cert!r} and tls_key {config.tls_key!r} are not a"
                f" certificate and its private key: {e.reason or e}",
                hint="tls_cert is the PEM certificate (chain), tls_key its own unencrypted PEM"
                " key: are they swapped, or from different pairs?",
            ) from e
    for name in ("tls_client_ca", "upstream_ca"):
        path = getattr(config, name)
        if path:
            try:
                ssl.create_default_context().load_verify_locations(cafile=path)
            except ssl.SSLError as e:
                raise check.refuse(
                    name,
                    f"{name}: {path!r} holds no PEM CA certificate: {e.reason or e}",
                    hint="give a file of PEM certificates (-----BEGIN CERTIFICATE-----)",
                ) from e
    if config.audit_log != "-":
        folder = Path(config.audit_log).parent
        if not folder.is_dir():
            raise check.refuse(
                "audit_log",
                f"audit_log: the directory of {config.audit_log!r} does not exist",
                hint=f"create {str(folder)!r}, or give another file ('-' for stdout)",
            )
        try:  # opened as the audit log will be: appended, created if missing
            os.close(os.open(config.audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))
        except OSError as e:
            raise check.refuse(
                "audit_log",
                f"audit_log: cannot write {config.audit_log!r}: {e.strerror}",
                hint="give a file this user can append to ('-' for stdout)",
            ) from e


def _readable(check: _Checker, name: str, path: str, what: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise check.refuse(
            name,
            f"{name}: cannot read {path!r}: {e.strerror}",
            hint=f"give the path of a readable {what}",
        ) from e
