"""`goproxy-scan env`: write the CI job's Go environment for CI_PROXY_MODE auto|force|none."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..cienv import (
    JOB_LOCAL,
    PUBLIC_GOPROXY,
    GoEnvironment,
    Health,
    OutboundProxies,
    ProxyMode,
    ProxySettings,
    default_netrc_path,
    parse_mode,
    plan,
    probe_health,
    render_dotenv,
    render_github_env,
    render_shell,
    write_netrc,
)
from ..errors import InputError, OperationalError
from ..exitcodes import ExitCode


def _goflags(value: str | None) -> str:
    # Keep the job's own GOFLAGS; add -mod=readonly unless it already says which -mod: a build
    # that rewrites go.mod could fetch modules the scan never judged.
    if value is not None:
        return value
    inherited = os.environ.get("GOFLAGS", "").split()
    if any(flag.startswith("-mod=") for flag in inherited):
        return " ".join(inherited)
    return " ".join([*inherited, "-mod=readonly"])


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise OperationalError(f"{path}: cannot append the Go environment: {e}") from e


def _warn(message: str, github: bool, stdout_free: bool) -> None:
    # On GitHub the workflow command makes the warning an annotation on the run's summary page;
    # stdout carries it only when stdout is not the export lines a shell will eval.
    if github and stdout_free:
        click.echo(f"::warning title=goproxy-scan env::{message}")
    else:
        click.echo(f"warning: {message}", err=True)


def _write_dotenv(path: Path, result: GoEnvironment) -> None:
    # Written even when empty: GitLab's artifacts:reports:dotenv expects the file to exist.
    try:
        path.write_text(render_dotenv(result.variables), encoding="utf-8")
    except OSError as e:
        raise OperationalError(f"{path}: cannot write the dotenv file: {e}") from e
    left_out = sorted(name for name, _ in result.variables if name in JOB_LOCAL)
    if left_out:
        click.echo(
            f"note: {path} leaves out {', '.join(left_out)} (the .netrc is this job's only): a "
            "later job that downloads from the private proxy runs `goproxy-scan env` itself "
            "or brings its own ~/.netrc",
            err=True,
        )


@click.command("env")
@click.option(
    "--mode",
    envvar="CI_PROXY_MODE",
    default="auto",
    show_default=True,
    help="auto: the private proxy if it is healthy, else public with a warning; force: the "
    "private proxy or exit 3; none: change nothing. Default from CI_PROXY_MODE.",
)
@click.option(
    "--proxy",
    "proxy_url",
    envvar="GOPROXY_SCAN_PROXY",
    default="",
    help="The private proxy, https://host[/base]. [env GOPROXY_SCAN_PROXY]",
)
@click.option(
    "--token",
    envvar="GOPROXY_SCAN_TOKEN",
    default="",
    help="Password/token for the proxy, written to a .netrc (https only). [env GOPROXY_SCAN_TOKEN]",
)
@click.option(
    "--username",
    envvar="GOPROXY_SCAN_PROXY_USER",
    default="goproxy-scan",
    show_default=True,
    help="The .netrc login. [env GOPROXY_SCAN_PROXY_USER]",
)
@click.option(
    "--private",
    envvar="GOPROXY_SCAN_PRIVATE",
    default=None,
    help="Private module patterns (comma-separated globs) that no public checksum "
    "database knows. [env GOPROXY_SCAN_PRIVATE, else GOPRIVATE]",
)
@click.option(
    "--public-proxy",
    envvar="GOPROXY_SCAN_PUBLIC_PROXY",
    default=None,
    help="GOPROXY to use without the private proxy; default: the job's GOPROXY, else "
    "https://proxy.golang.org,direct. [env GOPROXY_SCAN_PUBLIC_PROXY]",
)
@click.option(
    "--sumdb",
    envvar="GOPROXY_SCAN_SUMDB",
    default="",
    help="GOSUMDB to set (e.g. off for an air-gapped mirror). [env GOPROXY_SCAN_SUMDB]",
)
@click.option(
    "--goflags", default=None, help="GOFLAGS to set; default: the job's GOFLAGS plus -mod=readonly."
)
@click.option(
    "--http-proxy",
    envvar="GOPROXY_SCAN_HTTP_PROXY",
    default="",
    help="Outbound HTTP_PROXY for the job. [env GOPROXY_SCAN_HTTP_PROXY]",
)
@click.option(
    "--https-proxy",
    envvar="GOPROXY_SCAN_HTTPS_PROXY",
    default="",
    help="Outbound HTTPS_PROXY for the job. [env GOPROXY_SCAN_HTTPS_PROXY]",
)
@click.option(
    "--no-proxy",
    envvar="GOPROXY_SCAN_NO_PROXY",
    default="",
    help="NO_PROXY; the private proxy's host is added. [env GOPROXY_SCAN_NO_PROXY]",
)
@click.option(
    "--netrc",
    "netrc_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the .netrc (exported as NETRC); default "
    "$RUNNER_TEMP/goproxy-scan/netrc or ~/.config/goproxy-scan/netrc.",
)
@click.option(
    "--health-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="Seconds to wait for <proxy>/-/healthz.",
)
@click.option(
    "--github-env",
    is_flag=True,
    help="Append to $GITHUB_ENV (multiline-safe syntax) instead of printing.",
)
@click.option(
    "--dotenv",
    "dotenv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a GitLab dotenv file (artifacts:reports:dotenv) for later jobs: the "
    "variables without GOAUTH/NETRC, whose .netrc exists only in this job. The `export` lines "
    "for this job are printed as without it.",
)
def env(
    mode: str,
    proxy_url: str,
    token: str,
    username: str,
    private: str | None,
    public_proxy: str | None,
    sumdb: str,
    goflags: str | None,
    http_proxy: str,
    https_proxy: str,
    no_proxy: str,
    netrc_path: Path | None,
    health_timeout: float,
    github_env: bool,
    dotenv_path: Path | None,
) -> int:
    """Write the Go environment (GOPROXY, GONOSUMDB/GOPRIVATE, GOSUMDB, GOFLAGS, GOAUTH/.netrc,
    HTTP(S)_PROXY/NO_PROXY) for this CI job.

    Without --github-env it prints `export` lines: eval "$(goproxy-scan env)"; --dotenv writes
    the later jobs' share too: eval "$(goproxy-scan env --dotenv goproxy-scan.env)".
    """
    if github_env and dotenv_path is not None:
        raise InputError("choose one of --github-env and --dotenv")
    proxy_mode = parse_mode(mode)
    if private is None:
        private = os.environ.get("GOPRIVATE", "")
    settings = ProxySettings(
        proxy_url=proxy_url.strip(),
        token=token,
        username=username,
        private=tuple(p.strip() for p in private.split(",") if p.strip()),
        # A GOPROXY the job already has (a corporate mirror) is its public setting.
        public_goproxy=public_proxy or os.environ.get("GOPROXY") or PUBLIC_GOPROXY,
        sumdb=sumdb,
        goflags=_goflags(goflags),
        http_proxy=http_proxy,
        https_proxy=https_proxy,
        no_proxy=no_proxy,
        inherited=OutboundProxies.from_environ(os.environ),
        # What requests itself would read; the health check reads no other environment.
        ca_bundle=os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or "",
        netrc_path=netrc_path or default_netrc_path(os.environ),
        health_timeout=health_timeout,
    )
    on_github = github_env or os.environ.get("GITHUB_ACTIONS") == "true"
    # stdout is free for workflow commands only under --github-env; else it is export lines.
    stdout_free = github_env
    if on_github and settings.token:
        click.echo(f"::add-mask::{settings.token}", err=not stdout_free)
    health: Health | None = None
    if proxy_mode is not ProxyMode.NONE and settings.proxy_url:
        health = probe_health(settings)
    result: GoEnvironment = plan(settings, proxy_mode, health)
    for message in result.warnings:
        _warn(message, on_github, stdout_free)
    for message in result.notes:
        click.echo(f"note: {message}", err=True)
    if result.netrc and settings.netrc_path is not None:
        write_netrc(settings.netrc_path, result.netrc)
    if github_env:
        target = os.environ.get("GITHUB_ENV")
        if not target:
            raise InputError("--github-env: $GITHUB_ENV is not set (not on a GitHub runner?)")
        _append(Path(target), render_github_env(result.variables))
    else:
        if dotenv_path is not None:
            _write_dotenv(dotenv_path, result)
        click.echo(render_shell(result.variables), nl=False)
    click.echo(f"goproxy-scan env: mode={proxy_mode.value} route={result.route.value}", err=True)
    return int(ExitCode.PASS)
