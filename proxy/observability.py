"""Observability: trace ids, the JSON-lines audit log, Prometheus metrics, optional OTel spans."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import random
import re
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from scanner.errors import InputError

TRACE_HEADER = "x-go-module-trace-id"
_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Who made the request being handled (proxy/auth.py sets it): every audit event names them.
IDENTITY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "go_vault_identity", default=None
)


def trace_id_from(value: str | None) -> str:
    """The client's trace id if it is a sane token, else a new one (never echo arbitrary bytes)."""
    if value and _TRACE_ID.match(value):
        return value
    # 128 random bits from the Mersenne Twister: a trace id must be unique, not secret, and
    # os.urandom costs a syscall per request. The random module reseeds itself after fork, so
    # server worker processes never share a sequence.
    return f"{random.getrandbits(128):032x}"


# One encoder for every line: json.dumps with options builds a new encoder on each call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode
_second: tuple[int, str] = (-1, "")


def _timestamp() -> str:
    """Now in UTC as ISO 8601 with milliseconds, the date part formatted once a second."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}+00:00"


class AuditLog:
    """One JSON object per line per request and per ingest, for a SIEM; thread-safe.

    Lines are buffered and flushed every `flush_interval` seconds (and at close) rather than per
    request, which would cost a write(2) each; security events flush at once. A flush writes
    whole lines in one O_APPEND write, so several server processes can share one file without
    tearing each other's lines.
    """

    def __init__(self, target: str, flush_interval: float = 0.25) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._fd: int | None = None
        self._stdout = target in ("-", "")
        if not self._stdout:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._stop = threading.Event()
        self._flush_interval = flush_interval
        self._flusher = threading.Thread(target=self._flush_loop, name="audit-log", daemon=True)
        self._flusher.start()

    def event(self, event: str, **fields: Any) -> None:
        record = {"ts": _timestamp(), "event": event}
        identity = IDENTITY.get()
        if identity is not None:
            record["identity"] = identity
        for key, value in fields.items():
            if value is not None:
                record[key] = value
        line = _ENCODE(record) + "\n"
        with self._lock:
            self._pending.append(line)
        if event == "security":
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            data = "".join(self._pending).encode()
            self._pending.clear()
            if self._stdout:
                sys.stdout.write(data.decode())
                sys.stdout.flush()
                return
            if self._fd is None:
                return  # closed: a straggler after shutdown is dropped
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class Metrics:
    """The gateway's Prometheus metrics, in a registry of their own (one per app, no globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "go_vault_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "go_vault_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=(
                0.0005,
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
                30,
            ),
            registry=self.registry,
        )
        self.cache = Counter(
            "go_vault_cache",
            "Artifact lookups by result (hit, miss, stale)",
            ["result"],
            registry=self.registry,
        )
        self.upstream = Counter(
            "go_vault_upstream_requests",
            "Upstream fetches by outcome (ok, not_found, error)",
            ["outcome"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, ...], Any] = {}
        self.ingests = Counter(
            "go_vault_ingests",
            "Ingested module versions by outcome",
            ["outcome"],
            registry=self.registry,
        )

    def observe_request(self, route: str, status: int, seconds: float, cache: str | None) -> None:
        """Count one request; label children are looked up once (labels() takes a lock)."""
        key = (route, str(status), cache or "")
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, str(status)),
                self.latency.labels(route),
                self.cache.labels(cache) if cache else None,
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if children[2] is not None:
            children[2].inc()


class Tracer:
    """OpenTelemetry spans when an OTLP endpoint is configured (extra `otel`), else nothing."""

    def __init__(self, otlp_endpoint: str | None) -> None:
        self._tracer: Any = None
        self._provider: Any = None
        if not otlp_endpoint:
            return
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as e:
            raise InputError(
                f"otlp_endpoint is set but OpenTelemetry is not installed ({e.name})",
                hint="pip install 'goproxy-scan[otel]', or unset otlp_endpoint",
            ) from e

        provider = TracerProvider(resource=Resource.create({"service.name": "go-vault"}))
        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        self._provider = provider
        self._tracer = provider.get_tracer("go-vault")

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @contextlib.contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Any]:
        if self._tracer is None:
            yield None
            return
        with self._tracer.start_as_current_span(name) as span:
            for key, value in attributes.items():
                if value is not None:
                    span.set_attribute(key, value)
            yield span

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
