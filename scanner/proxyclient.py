"""Client of the proxy verdict API: one batch POST, retries with backoff, timeouts, a token."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .errors import InputError, OperationalError
from .module import ModuleVersion
from .verdict import Verdict

# The proxy answers a batch in one response; large build lists go in several requests.
BATCH_SIZE = 500
VERDICTS_ROUTE = "-/verdicts"


class ProxyUnreachableError(OperationalError):
    """The proxy did not answer (connection refused, timeout, 5xx after retries)."""


class ProxyAuthError(OperationalError):
    """The proxy refused our credentials (401/403)."""


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Timeouts in seconds; `retries` counts retries after the first try."""

    token: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5  # sleeps backoff, 2*backoff, 4*backoff... between tries


class ProxyClient:
    """Ask a goproxy-scan proxy (`go-vault serve`) for its verdicts.

    Request:  POST <base>/-/verdicts  {"modules": [{"module": path, "version": v}, ...]}
    Response: 200 {"verdicts": [<Verdict JSON>, ...]} — one per module it knows; a module it has
    not judged is left out, and the caller decides what to do about it.
    """

    def __init__(self, url: str, options: ClientOptions | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError(
                f"proxy URL {url!r} is not http(s)", hint="pass --proxy https://host[/base]"
            )
        self.url = url.rstrip("/") + "/" + VERDICTS_ROUTE
        self.options = options or ClientOptions()
        retry = Retry(
            total=self.options.retries,
            connect=self.options.retries,
            read=self.options.retries,
            status=self.options.retries,
            backoff_factor=self.options.backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            # The verdict query reads only, so repeating the POST is safe.
            allowed_methods=frozenset({"POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["User-Agent"] = f"goproxy-scan/{__version__}"
        if self.options.token:
            self.session.headers["Authorization"] = f"Bearer {self.options.token}"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verdicts(self, modules: Sequence[ModuleVersion]) -> dict[ModuleVersion, Verdict]:
        """The proxy's verdicts for `modules`, keyed by module@version."""
        out: dict[ModuleVersion, Verdict] = {}
        wanted = sorted(set(modules))
        for start in range(0, len(wanted), BATCH_SIZE):
            out.update(self._batch(wanted[start : start + BATCH_SIZE]))
        return out

    def _batch(self, modules: Sequence[ModuleVersion]) -> dict[ModuleVersion, Verdict]:
        body = {"modules": [{"module": m.path, "version": m.version} for m in modules]}
        try:
            response = self.session.post(
                self.url,
                json=body,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
            )
        except requests.RequestException as e:
            raise ProxyUnreachableError(
                f"the proxy at {self.url} cannot be reached: {type(e).__name__}",
                hint="check --proxy and the network, or pass --fail-open to judge locally",
            ) from e
        if response.status_code in (401, 403):
            raise ProxyAuthError(
                f"the proxy at {self.url} refused the request ({response.status_code})",
                hint="set GOPROXY_SCAN_TOKEN to a token the proxy accepts",
            )
        if response.status_code >= 500:
            raise ProxyUnreachableError(
                f"the proxy at {self.url} failed with {response.status_code} after "
                f"{self.options.retries} retries",
                hint="retry later, or pass --fail-open to judge locally",
            )
        if response.status_code != 200:
            raise OperationalError(
                f"the proxy at {self.url} answered {response.status_code}: "
                f"{response.text[:200].strip()}",
                hint="is --proxy a goproxy-scan proxy (go-vault serve)?",
            )
        try:
            items = response.json()["verdicts"]
            verdicts = [Verdict.from_json(item) for item in items]
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            raise OperationalError(
                f"the proxy at {self.url} sent a verdict response that does not parse: {e}",
                hint="the proxy and goproxy-scan versions may not match",
            ) from e
        asked = set(modules)
        out = {}
        for v in verdicts:
            key = ModuleVersion(v.module, v.version)
            if key in asked:
                out[key] = v
        return out
