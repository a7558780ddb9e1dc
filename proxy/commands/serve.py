"""`go-vault serve`: run the GOPROXY gateway in front of the vault."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import logging
import multiprocessing
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from scanner.errors import InputError
from scanner.exitcodes import ExitCode

from ..app import Gateway
from ..auth import TokenFile
from ..config import VaultConfig, load_config
from ..ingest import Auditor
from ..limits import RequestLimits, with_deadlines
from ..storage import Storage
from ..tenants import TenantRouter, with_tenants

log = logging.getLogger(__name__)


def auditor_for(config: VaultConfig) -> Auditor | None:
    """The license auditor when a policy is configured (proxy.auditor, owned by its issue)."""
    if config.policy is None and config.license_whitelist is None:
        return None
    try:
        module = importlib.import_module("proxy.auditor")
    except ImportError as e:
        raise InputError(
            "--policy/--license-whitelist given but the license auditor is not installed",
            hint="run without a policy, or install a go-vault with proxy.auditor",
        ) from e
    factory: Any = module.auditor_from_config
    auditor: Auditor | None = factory(config)
    return auditor


def _bind(config: VaultConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as e:
        sock.close()
        raise InputError(
            f"cannot listen on {config.listen}: {e.strerror}", hint="choose another --listen"
        ) from e
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _serve_uvicorn(
    config: VaultConfig, gateway: Gateway | TenantRouter, sock: socket.socket
) -> None:
    import uvicorn

    from ..tls import uvicorn_tls_options

    options = uvicorn_tls_options(config)  # http protocol; certificate, key, client CA
    protocol = options["http"]
    if protocol == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as protocol
    options["http"] = with_deadlines(protocol, config.header_timeout, config.send_timeout)
    server = uvicorn.Server(
        uvicorn.Config(
            limited(config, gateway),
            loop="uvloop",
            **options,
            timeout_keep_alive=max(1, round(config.idle_timeout)),
            lifespan="on",
            log_level=config.log_level,
            access_log=False,  # the audit log has one line per request
            timeout_graceful_shutdown=10,
        )
    )
    # uvicorn handles SIGINT/SIGTERM: stop accepting, finish in-flight requests, run shutdown.
    server.run(sockets=[sock])


def gateway_for(
    config: VaultConfig, storage: Storage | None = None, tokens: TokenFile | None = None
) -> Gateway:
    auditor = auditor_for(config)
    if config.vulndb:
        from ..vulndb import vuln_auditor_for  # loads the policy code: only when configured

        auditor = vuln_auditor_for(config, auditor)
    return Gateway(config, storage=storage, auditor=auditor, tokens=tokens)


def app_for(config: VaultConfig) -> Gateway | TenantRouter:
    """The root gateway, or a router to it and one gateway per tenant (proxy/tenants.py)."""
    return with_tenants(config, gateway_for)


def limited(config: VaultConfig, app: Gateway | TenantRouter) -> RequestLimits:
    """What either server runs: the app behind the request body limits (proxy/limits.py)."""
    return RequestLimits(app, config.max_body, config.header_timeout)


def gateway_from_env() -> RequestLimits:
    """The app factory of a granian worker process: its config arrives as GO_VAULT_* variables."""
    _die_with_parent()
    config = load_config(env=os.environ)
    return limited(config, app_for(config))


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """A granian worker (a multiprocessing child of the main process) gets SIGTERM when the
    main process dies: after a `kill -9` of go-vault its worker went on serving, an orphan with
    the old config on the port (a restart then found the address in use). Linux only
    (prctl(2)); the signal comes when the thread that forked the worker ends, and granian
    forks from its main thread. SIGTERM stops the worker as granian's own stop does."""
    parent = multiprocessing.parent_process()
    if not sys.platform.startswith("linux") or parent is None or parent.pid is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0) != 0:
        log.warning("worker will outlive go-vault: prctl: %s", os.strerror(ctypes.get_errno()))
        return
    if os.getppid() != parent.pid:  # it died before prctl: no signal will come
        os.kill(os.getpid(), signal.SIGTERM)


# Granian's own log lines ("[INFO] Starting granian", one set per worker) go to stderr, as
# uvicorn's and go-vault's do: stdout may be the audit log (`audit_log: "-"`), JSON lines only.
_GRANIAN_LOGS_TO_STDERR = {
    "handlers": {
        handler: {"formatter": form, "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
        for handler, form in (("console", "generic"), ("access", "access"))
    }
}


def _serve_granian(config: VaultConfig, port: int, announce: Callable[[], None]) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    os.environ.update(config.to_env())  # the workers rebuild the same config from these
    # A worker is forked with serve()'s SIGTERM handler, whose SystemExit its start-up
    # swallows: stopping then waited out workers_kill_timeout. A worker that has not set its
    # own handler yet simply dies of the signal.
    os.register_at_fork(after_in_child=_worker_signals)
    server = Granian(
        "proxy.commands.serve:gateway_from_env",
        factory=True,
        address=config.host,
        port=port,
        interface=Interfaces.ASGI,
        workers=config.workers,
        loop=Loops.uvloop,
        log_level=LogLevels(config.log_level),
        log_access=False,
        log_dictconfig=_GRANIAN_LOGS_TO_STDERR,
        backlog=2048,
        # HTTP/1.1 only: in "auto" mode hyper-util first waits, with no timer, for the bytes that
        # tell HTTP/1 from HTTP/2 (hyperium/hyper#3962), so a connection that never sends a byte
        # was held for ever. Served as HTTP/1 from the start, hyper's header read timeout covers
        # a silent new connection, trickled headers and an idle keep-alive connection waiting
        # for its next request (granian has no other knob). The go command needs no HTTP/2.
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=round(1000 * min(config.header_timeout, config.idle_timeout))
        ),
        # A worker still draining after this long (seen with clients that vanished in the
        # middle of a zip) is killed, so SIGTERM always ends the service.
        workers_kill_timeout=15,
        ssl_cert=Path(config.tls_cert) if config.tls_cert else None,
        ssl_key=Path(config.tls_key) if config.tls_key else None,
    )
    # Granian's start-up hook runs before its workers listen (on Linux each binds its own
    # socket), and a worker ignores a SIGTERM that comes before its app has started: the start
    # line waits for an answer from the app.
    probe = _health_probe(config, port)

    def forked() -> bool:
        # granian appends each worker to `wrks` once it has forked it (server/common.py).
        return len(server.wrks) >= config.workers

    def started() -> None:
        # After granian has set its own SIGHUP handler (which rebuilds the workers: a policy
        # that no longer parses then made every new worker fail, and granian exit).
        signal.signal(signal.SIGHUP, _forward_to_workers)
        # The probe thread runs in the process granian forks its workers from. A fork copies
        # every lock a thread holds at that instant, held for ever in the child: a probe that
        # was importing the `idna` codec (socket.getaddrinfo encodes the host with it) as a
        # worker was forked left that module's import lock taken in the worker, and every
        # name lookup there (urllib3 -> botocore -> S3) then hung while /-/healthz answered.
        # So the thread does nothing until granian has forked all its workers, and even then
        # runs no import and no name lookup (the address and the TLS context are made here,
        # on the main thread, by _health_probe): granian forks again on SIGHUP or a respawn.
        args = (probe, announce, forked)
        threading.Thread(target=_announce_when_up, args=args, daemon=True).start()

    server.on_startup(started)
    server.serve()


def _forward_to_workers(signum: int, _frame: object) -> None:
    """granian's main process: pass the signal on to each worker, whose gateway reloads its
    policy in place as under uvicorn (proxy/auditor.py), keeping the old one if the new one
    does not parse. The workers are this process's multiprocessing children; a forked worker
    that has not yet set its own handler runs this one too, and has no children."""
    for worker in multiprocessing.active_children():
        if worker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signum)


def _health_probe(config: VaultConfig, port: int) -> Callable[[], bool]:
    """Whether GET /-/healthz on the server just started answers 200.

    Call it on the main thread: it resolves the address (socket.getaddrinfo, which imports the
    `idna` codec on first use) and makes the TLS context now, so that `probe()`, run by a
    thread while granian forks, imports nothing and looks up no name (see _serve_granian).
    """
    import encodings.idna  # noqa: F401  - what getaddrinfo of a str host imports, made sure of

    path = f"{config.base_path}/-/healthz"
    request = f"GET {path} HTTP/1.1\r\nHost: {config.host}\r\nConnection: close\r\n\r\n".encode()
    family, kind, proto, _, address = socket.getaddrinfo(
        config.host, port, type=socket.SOCK_STREAM
    )[0]
    tls = None
    if config.tls_cert:
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # our own server, by address

    def probe() -> bool:
        # `address` is numeric: connect() parses it without a lookup. A TLS socket takes over
        # raw's descriptor (closing raw after that does nothing).
        with socket.socket(family, kind, proto) as raw:
            raw.settimeout(5)
            raw.connect(address)
            with tls.wrap_socket(raw) if tls else raw as conn:
                conn.sendall(request)
                return conn.recv(64).startswith(b"HTTP/1.1 200")

    return probe


def _announce_when_up(
    probe: Callable[[], bool], announce: Callable[[], None], forked: Callable[[], bool]
) -> None:
    """`announce()` once `probe()` is true, probing only once `forked()` is; nothing if it is
    not within a minute (the workers failed to start, and granian says why)."""
    deadline = time.monotonic() + 60
    while not forked() and time.monotonic() < deadline:
        time.sleep(0.005)
    while time.monotonic() < deadline:
        try:
            if probe():
                announce()
                return
        except OSError:
            pass
        time.sleep(0.005)


def _exit_on_signal(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _worker_signals() -> None:
    """A forked granian worker's signals, until granian sets its own: Python's defaults."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--listen", help="HOST:PORT (default 127.0.0.1:3000; port 0 picks one)")
@click.option("--storage", help="vault directory (default ./vault-data)")
@click.option("--upstream", help="GOPROXY-style list: URL[,|URL…] (default from GOPROXY)")
@click.option("--upstream-ca", help="CA bundle (PEM) for https upstreams")
@click.option("--policy", help="license policy file for the auditor")
@click.option("--offline/--online", "offline", default=None, help="serve only what is stored")
@click.option("--base-path", help="serve under a path prefix, e.g. /go")
@click.option("--audit-log", help="JSON-lines audit log file ('-' for stdout)")
@click.option("--otlp-endpoint", help="OTLP/HTTP endpoint for trace spans")
@click.option("--license-whitelist", help="allow-list policy: comma-separated SPDX ids")
@click.option("--spdx-cache-dir", help="where license detection results are cached")
@click.option("--vulndb", help="Go vulnerability database dir: served at /-/vulndb/, audited")
@click.option(
    "--review-required",
    type=click.Choice(["refuse", "serve"]),
    help="REVIEW_REQUIRED: 403 until approved (refuse), or served with X-Go-Module-Verdict",
)
@click.option("--admin-token", help="bearer token of the /-/admin/ routes (GO_VAULT_ADMIN_TOKEN)")
@click.option("--auth-tokens", help="token file (go-vault token add): every route needs auth")
@click.option("--tls-cert", help="PEM certificate (chain) to serve https")
@click.option("--tls-key", help="PEM private key of --tls-cert")
@click.option("--tls-client-ca", help="mutual TLS: CA bundle client certificates must chain to")
@click.option("--mtls-scope", type=click.Choice(["read", "verdicts", "admin"]))
@click.option("--rate-limit", type=float, help="requests/s per identity; over it: 429")
@click.option("--tenants", help="tenants file: /t/<name>/ with own policy, storage, quota")
@click.option("--max-ingests", type=int, help="module versions ingested at once (0: no cap)")
@click.option("--server", type=click.Choice(["uvicorn", "granian"]), help="HTTP server")
@click.option("--workers", type=int, help="server processes (granian only)")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config_file: Path | None, **flags: Any) -> int:
    """Serve the GOPROXY protocol from the vault, fetching and checking new modules upstream."""
    config = load_config(config_file, flags=flags, files=True)
    logging.basicConfig(level=config.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    gateway = app_for(config)  # also fails early on a bad policy, vulndb or tenants file
    sock = _bind(config)
    host, port = sock.getsockname()[:2]
    if config.server == "granian":
        sock.close()  # granian binds by itself; port 0 was resolved above
        # Each granian worker builds its own gateway (threads do not survive its fork); this
        # one only proved the config and warmed the imports the workers inherit.
        for one in gateway.gateways if isinstance(gateway, TenantRouter) else [gateway]:
            one.audit_log.close()
    scheme = "https" if config.tls_cert else "http"
    start = {
        "event": "start",
        "listen": f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}{config.base_path}",
        # A URL as given (resolving s3://… as a path made it /cwd/s3:/…); a directory resolved.
        "storage": config.storage
        if "://" in config.storage
        else str(Path(config.storage).resolve()),
        "upstream": "" if config.offline else config.upstream,
        "offline": config.offline,
        "policy": config.policy,
        "server": config.server,
        "workers": config.workers,
    }

    def announce() -> None:
        print(json.dumps(start), file=sys.stderr, flush=True)

    # Both servers stop gracefully on SIGTERM and SIGINT (stop accepting, finish in-flight
    # requests, run the lifespan shutdown that flushes the audit log), then re-raise the signal
    # to the handler they found. This one is that handler, so a graceful stop exits 0 (what
    # service managers expect) instead of dying by -15 or as "aborted". Before a server has set
    # its own, a signal lands here too, and ends the process at once: a handler that ignored
    # SIGTERM left the stop hanging.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _exit_on_signal)
    if config.server == "granian":
        _serve_granian(config, port, announce)
    else:
        announce()  # the socket already listens: connections wait in its backlog
        _serve_uvicorn(config, gateway, sock)
    return int(ExitCode.PASS)
