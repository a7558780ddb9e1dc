"""The Go environment of a CI job (CI_PROXY_MODE): private proxy, public fallback or untouched."""

from __future__ import annotations

import enum
import ipaddress
import os
import re
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from .errors import InputError, OperationalError

PUBLIC_GOPROXY = "https://proxy.golang.org,direct"
HEALTH_PATH = "-/healthz"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Variables that hold only in the job that ran `env`: NETRC names a file in its filesystem, and
# GOAUTH=netrc in a job without that file gets the proxy's 401. A dotenv never carries them.
JOB_LOCAL = frozenset({"GOAUTH", "NETRC"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyMode(enum.StrEnum):
    """CI_PROXY_MODE: how much the job insists on the private proxy."""

    AUTO = "auto"  # the private proxy when it answers its health check, else public, with a warning
    FORCE = "force"  # the private proxy or nothing: fail closed (exit 3)
    NONE = "none"  # leave the job's Go environment exactly as it is


class Route(enum.StrEnum):
    """Where the job's module downloads go after `env` ran."""

    PRIVATE = "private"
    PUBLIC = "public"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class OutboundProxies:
    """HTTP_PROXY, HTTPS_PROXY and NO_PROXY, and the route the go command takes with them."""

    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OutboundProxies:
        """A job's own settings, read as Go reads them: the upper-case name, else the lower."""

        def get(name: str) -> str:
            return environ.get(name) or environ.get(name.lower()) or ""

        return cls(get("HTTP_PROXY"), get("HTTPS_PROXY"), get("NO_PROXY"))

    def proxy_for(self, url: str) -> str:
        """The proxy the go command sends a request for `url` through; "" when it goes direct.

        Go's rules (golang.org/x/net/http/httpproxy), not requests': localhost and loopback
        addresses never use a proxy; NO_PROXY entries are `*`, an IP or CIDR (matching IP hosts
        only), or a domain matching itself and its subdomains (`corp.example`, `.corp.example`,
        `*.corp.example`; never an IP host), each with an optional `:port` that must equal the
        URL's (80/443 when it has none).
        """
        parts = urlsplit(url)
        proxy = {"http": self.http_proxy, "https": self.https_proxy}.get(parts.scheme, "")
        if not proxy:
            return ""
        try:
            port = str(parts.port or _DEFAULT_PORTS[parts.scheme])
        except ValueError:
            return proxy  # Go gives up on matching a malformed address, and proxies it
        if not _use_proxy(parts.hostname or "", port, self.no_proxy):
            return ""
        # Go reads a proxy without a scheme (`egress:3128`) as http://.
        proxy_parts = urlsplit(proxy)
        return proxy if proxy_parts.scheme and proxy_parts.netloc else f"http://{proxy}"


def _ip(text: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    # Go's net.IP holds 1.2.3.4 and ::ffff:1.2.3.4 as one address.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _split_host_port(text: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort: `host:port` or `[v6]:port`; None when there is no port."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            return None
        return text[1:end], text[end + 2 :]
    host, colon, port = text.rpartition(":")
    if not colon or ":" in host:
        return None
    return host, port


def _use_proxy(host: str, port: str, no_proxy: str) -> bool:
    """httpproxy's useProxy: False when `host:port` is loopback or NO_PROXY covers it."""
    if host == "localhost":
        return False
    ip = _ip(host)
    if ip is not None and ip.is_loopback:
        return False
    host = host.lower()
    for entry in no_proxy.split(","):
        pattern = entry.strip().lower()
        if not pattern:
            continue
        if pattern == "*":
            return False
        if "/" in pattern:
            try:
                network = ipaddress.ip_network(pattern, strict=False)
            except ValueError:
                pass  # not a CIDR: Go reads it as a host below
            else:
                if ip is not None and ip in network:
                    return False
                continue
        split = _split_host_port(pattern)
        pattern_host, pattern_port = split if split else (pattern, "")
        if split and not pattern_host:
            continue  # `:80`: no host, malformed
        if split and pattern_host.startswith("[") and pattern_host.endswith("]"):
            pattern_host = pattern_host[1:-1]
        port_matches = pattern_port in ("", port)
        pattern_ip = _ip(pattern_host)
        if pattern_ip is not None:
            if ip == pattern_ip and port_matches:
                return False
            continue
        if not pattern_host or ip is not None:
            continue
        suffix = pattern_host[1:] if pattern_host.startswith("*.") else pattern_host
        exact = not suffix.startswith(".")
        if exact:
            suffix = "." + suffix
        if (host.endswith(suffix) or (exact and host == suffix[1:])) and port_matches:
            return False
    return True


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """Everything `env` needs to know, gathered once from flags and the environment."""

    proxy_url: str = ""
    token: str = ""
    username: str = "goproxy-scan"
    private: tuple[str, ...] = ()
    public_goproxy: str = PUBLIC_GOPROXY
    sumdb: str = ""
    goflags: str = "-mod=readonly"
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = ""
    inherited: OutboundProxies = OutboundProxies()  # the job's own HTTP(S)_PROXY, NO_PROXY
    ca_bundle: str = ""  # REQUESTS_CA_BUNDLE for an https health check; "" is certifi's
    netrc_path: Path | None = None
    health_timeout: float = 3.0


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of `<proxy>/-/healthz`: ok, and what to tell the user when it is not."""

    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class GoEnvironment:
    """The variables to export (in order), the .netrc to write, and what to warn about."""

    route: Route
    variables: tuple[tuple[str, str], ...] = ()
    netrc: str = ""  # the file's content; "" writes no file
    warnings: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # values a CI log must mask
    notes: tuple[str, ...] = ()  # worth a log line, not a warning

    def get(self, name: str) -> str | None:
        return dict(self.variables).get(name)


def parse_mode(value: str) -> ProxyMode:
    """`auto`, `force` or `none` (any case); an empty value means auto."""
    text = value.strip().lower() or ProxyMode.AUTO.value
    try:
        return ProxyMode(text)
    except ValueError:
        raise InputError(
            f"CI_PROXY_MODE={value!r} is not a proxy mode",
            hint="use auto, force or none",
        ) from None


def split_userinfo(url: str) -> tuple[str, str, str]:
    """`https://u:p@host/go` -> (`https://host/go`, u, p): the go command refuses URL creds."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, "", ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, parts.username or "", parts.password or ""


def check_proxy_url(url: str) -> str:
    """The proxy URL without a trailing slash; raises InputError unless http(s)://host or file://.

    A file:// URL is a GOPROXY directory (an offline bundle laid out as a tree).
    """
    if any(sep in url for sep in ",|"):
        raise InputError(
            f"proxy URL {url!r} is a GOPROXY list, not one URL",
            hint="give the private proxy alone as https://host[:port][/base-path]; goproxy-scan"
            " env writes the GOPROXY list itself",
        )
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.path:
        return url.rstrip("/")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"proxy URL {url!r} is not an http(s) or file URL",
            hint="give the private proxy as https://host[:port][/base-path]",
        )
    return url.rstrip("/")


def health_url(proxy_url: str) -> str:
    """The health endpoint under the proxy's base path (`https://host/go` -> `/go/-/healthz`)."""
    return f"{proxy_url.rstrip('/')}/{HEALTH_PATH}"


def job_proxies(settings: ProxySettings) -> OutboundProxies:
    """The outbound proxies of the job's go command once `env` ran: what it writes, else the
    job's own (the private proxy's route, so NO_PROXY holds its host when `env` writes one)."""
    written = dict(_outbound_proxy_variables(settings, settings.proxy_url))
    return OutboundProxies(
        written.get("HTTP_PROXY") or settings.inherited.http_proxy,
        written.get("HTTPS_PROXY") or settings.inherited.https_proxy,
        written.get("NO_PROXY") or settings.inherited.no_proxy,
    )


def probe_health(settings: ProxySettings) -> Health:
    """GET `<proxy>/-/healthz` once with a short timeout; healthz needs no credentials.

    The request takes the route the job's go command will take (job_proxies): direct when
    NO_PROXY covers the proxy's host or it is loopback, else through HTTP(S)_PROXY. A
    file:// GOPROXY is healthy when its directory exists.
    """
    parts = urlsplit(settings.proxy_url)
    if parts.scheme == "file":
        tree = Path(unquote(parts.path))
        return Health(tree.is_dir(), f"{tree}: " + ("a directory" if tree.is_dir() else "missing"))
    url = health_url(split_userinfo(settings.proxy_url)[0])
    try:
        via = job_proxies(settings).proxy_for(url)
    except ValueError as e:  # a host urlsplit cannot read, e.g. an unclosed [
        return Health(False, f"{url}: {e}")
    route = f" via {split_userinfo(via)[0]}" if via else ""  # never the proxy's password
    try:
        with requests.Session() as session:
            # No environment of requests' own (its NO_PROXY rules are not Go's): the route
            # above is the only one.
            session.trust_env = False
            resp = session.get(
                url,
                timeout=settings.health_timeout,
                proxies={urlsplit(url).scheme: via} if via else {},
                verify=settings.ca_bundle or True,
                allow_redirects=False,
            )
    except requests.Timeout:
        return Health(False, f"{url}{route}: no answer within {settings.health_timeout:g}s")
    except requests.RequestException as e:
        # requests nests the socket error deep in its message; the errno text is what helps.
        errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", str(e))
        return Health(False, f"{url}{route}: {errno.group(0) if errno else type(e).__name__}")
    if 200 <= resp.status_code < 300:
        return Health(True, f"{url}{route}: {resp.status_code}")
    return Health(False, f"{url}{route}: HTTP {resp.status_code}")


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def _no_proxy(settings: ProxySettings, proxy_url: str) -> str:
    # An outbound HTTP(S) proxy usually cannot reach the private proxy on the internal network:
    # keep the private proxy's host out of it. The NO_PROXY written replaces the job's: without
    # --no-proxy, the job's own entries are kept.
    given = settings.no_proxy or settings.inherited.no_proxy
    entries = [e.strip() for e in given.split(",") if e.strip()]
    host = _host(proxy_url)
    if proxy_url and host and host not in entries:
        entries.append(host)
    return ",".join(entries)


def _outbound_proxy_variables(settings: ProxySettings, proxy_url: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if settings.http_proxy:
        out.append(("HTTP_PROXY", settings.http_proxy))
    if settings.https_proxy:
        out.append(("HTTPS_PROXY", settings.https_proxy))
    if settings.http_proxy or settings.https_proxy or settings.no_proxy:
        no_proxy = _no_proxy(settings, proxy_url)
        if no_proxy:
            out.append(("NO_PROXY", no_proxy))
    return out


def netrc_line(host: str, login: str, password: str) -> str:
    """One `.netrc` entry; netrc has no quoting, so whitespace in a credential cannot be written."""
    for what, value in (("host", host), ("login", login), ("password", password)):
        if not value or any(c.isspace() for c in value):
            raise InputError(
                f"cannot write a .netrc entry: the {what} is empty or contains whitespace",
                hint="use a token without spaces (GOPROXY_SCAN_TOKEN)",
            )
    return f"machine {host} login {login} password {password}\n"


def plan(settings: ProxySettings, mode: ProxyMode, health: Health | None) -> GoEnvironment:
    """The environment for `mode`, given the health check's answer (None when not probed).

    Pure: raises InputError for a bad configuration and OperationalError when `force` finds the
    proxy down; the caller does the probing and the writing.
    """
    if mode is ProxyMode.NONE:
        return GoEnvironment(
            Route.UNCHANGED,
            warnings=("CI_PROXY_MODE=none: the Go environment is left unchanged",),
        )
    private = ",".join(settings.private)
    warnings: list[str] = []
    if not settings.proxy_url:
        if mode is ProxyMode.FORCE:
            raise InputError(
                "CI_PROXY_MODE=force but no private proxy is configured",
                hint="set GOPROXY_SCAN_PROXY or pass --proxy URL",
            )
        # Not a fallback: nothing was asked for, so nothing is missing.
        note = (
            "no private proxy configured (GOPROXY_SCAN_PROXY): using "
            f"GOPROXY={settings.public_goproxy}"
        )
        return replace(_public(settings, private, warnings), notes=(note,))
    url, url_login, url_password = split_userinfo(check_proxy_url(settings.proxy_url))
    if health is None or not health.ok:
        detail = health.detail if health else "not checked"
        if mode is ProxyMode.FORCE:
            raise OperationalError(
                f"private Go proxy {url} is not answering its health check ({detail}); "
                "CI_PROXY_MODE=force fails closed",
                hint="start or fix the proxy, or set CI_PROXY_MODE=auto to allow the public "
                "fallback",
            )
        warnings.append(
            f"private Go proxy {url} is not answering its health check ({detail}): falling back "
            f"to the public setting GOPROXY={settings.public_goproxy}; downloads in this job are "
            "NOT checked by the private proxy"
        )
        return _public(settings, private, warnings)
    return _private(settings, url, url_login, url_password, private, warnings)


def _public(settings: ProxySettings, private: str, warnings: list[str]) -> GoEnvironment:
    variables = [("GOPROXY", settings.public_goproxy)]
    if private:
        # Without the private proxy, private modules must bypass the public proxy and checksum
        # database, which would leak their paths and cannot know them.
        variables.append(("GOPRIVATE", private))
    if settings.sumdb:
        variables.append(("GOSUMDB", settings.sumdb))
    if settings.goflags:
        variables.append(("GOFLAGS", settings.goflags))
    variables += _outbound_proxy_variables(settings, "")
    return GoEnvironment(Route.PUBLIC, tuple(variables), warnings=tuple(warnings))


def _private(
    settings: ProxySettings,
    url: str,
    url_login: str,
    url_password: str,
    private: str,
    warnings: list[str],
) -> GoEnvironment:
    # No fallback after the private proxy: a module it refuses must not come from elsewhere.
    variables = [("GOPROXY", url)]
    # Private modules come through the private proxy too (GONOPROXY empty), but no public
    # checksum database knows them.
    variables += [("GONOPROXY", ""), ("GONOSUMDB", private), ("GOPRIVATE", "")]
    if settings.sumdb:
        variables.append(("GOSUMDB", settings.sumdb))
    if settings.goflags:
        variables.append(("GOFLAGS", settings.goflags))
    password = settings.token or url_password
    login = (url_login if url_password and not settings.token else "") or settings.username
    netrc = ""
    secret_values: tuple[str, ...] = ()
    if password:
        secret_values = (password,)
        if urlsplit(url).scheme == "file":
            pass  # a directory needs no credentials
        elif urlsplit(url).scheme != "https":
            warnings.append(
                f"not writing credentials for {url}: the go command sends .netrc credentials only "
                "over https; serve the private proxy over https to authenticate"
            )
        else:
            if settings.netrc_path is None:
                raise InputError(
                    "a proxy token is set but there is nowhere to write the .netrc",
                    hint="pass --netrc FILE",
                )
            # The go command matches a netrc machine against the URL's host[:port] prefix, so a
            # proxy on a non-default port needs the port in the machine name.
            netrc = netrc_line(urlsplit(url).netloc, login, password)
            variables += [("GOAUTH", "netrc"), ("NETRC", str(settings.netrc_path))]
    variables += _outbound_proxy_variables(settings, url)
    return GoEnvironment(
        Route.PRIVATE,
        tuple(variables),
        netrc=netrc,
        warnings=tuple(warnings),
        secrets=secret_values,
    )


def _check_variables(variables: tuple[tuple[str, str], ...], where: str) -> None:
    for name, value in variables:
        if not _NAME.match(name):
            raise InputError(f"{where}: {name!r} is not an environment variable name")
        if "\n" in value or "\r" in value:
            raise InputError(
                f"{where}: the value of {name} spans several lines",
                hint="GitLab dotenv and shell export lines take single-line values",
            )


def render_github_env(variables: tuple[tuple[str, str], ...]) -> str:
    """`$GITHUB_ENV` lines in the heredoc form, which is safe for any value (even multiline)."""
    out = []
    for name, value in variables:
        if not _NAME.match(name):
            raise InputError(f"$GITHUB_ENV: {name!r} is not an environment variable name")
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(out)


def render_dotenv(variables: tuple[tuple[str, str], ...]) -> str:
    """A GitLab `artifacts:reports:dotenv` file: `KEY=VALUE`, unquoted, no blank lines.

    It is for later jobs, so it leaves out JOB_LOCAL: a later job that downloads from an
    authenticating proxy brings its own credentials (runs `goproxy-scan env`, or a ~/.netrc).
    """
    # GitLab keeps quotes literally and rejects blank lines, comments and multiline values.
    _check_variables(variables, "dotenv")
    return "".join(f"{name}={value}\n" for name, value in variables if name not in JOB_LOCAL)


def render_shell(variables: tuple[tuple[str, str], ...]) -> str:
    """`export KEY='value'` lines for `eval "$(goproxy-scan env)"` in any POSIX shell."""
    _check_variables(variables, "shell")
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables)


def default_netrc_path(environ: Mapping[str, str]) -> Path:
    """Where the .netrc goes: the runner's temp dir on GitHub, else under the job's home."""
    runner_temp = environ.get("RUNNER_TEMP")
    if runner_temp:
        return Path(runner_temp) / "goproxy-scan" / "netrc"
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".config" / "goproxy-scan" / "netrc"


def write_netrc(path: Path, content: str) -> None:
    """Write the .netrc readable by its owner only (0600), replacing any earlier one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OperationalError(f"{path}: cannot write the .netrc: {e}") from e


def main(argv: list[str] | None = None) -> int:
    """`python -m scanner.cienv mode VALUE`: print the proxy mode VALUE means (auto, force or
    none), exit 2 with the reason when it means none of them. The CI scripts decide the mode
    with this, so that they and `goproxy-scan env` read a value the same way."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "mode":
        print("usage: python -m scanner.cienv mode VALUE", file=sys.stderr)
        return 2
    try:
        print(parse_mode(args[1]).value)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
