"""Scan settings: defaults -> policy file `scan:` section -> GOPROXY_SCAN_* -> flags, frozen."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, utf8_problem, yaml_problem
from .reports import OutputFormat
from .result import Severity
from .sbom import SbomFormat, SpecVersion
from .yamlfile import safe_load

DEFAULT_POLICY_FILE = ".goproxy-scan.yml"
ENV_PREFIX = "GOPROXY_SCAN_"


@dataclass(frozen=True, slots=True)
class Output:
    """One report: a format and where it goes ("-" is standard output)."""

    format: OutputFormat
    path: str = "-"


@dataclass(frozen=True, slots=True)
class ScanConfig:
    main_dir: Path = Path(".")
    policy_file: Path | None = None
    proxy: str = ""  # http(s):// verdict API, or file:// GOPROXY tree to judge from locally
    base: str = ""  # git ref for the pre-merge diff
    outputs: tuple[Output, ...] = (Output(OutputFormat.CONSOLE),)
    sbom: Path | None = None
    sbom_spec: SpecVersion = SpecVersion.V1_6
    sbom_format: SbomFormat | None = None  # None: from the file name (.xml or else JSON)
    reproducible: bool = False
    fail_on: Severity | None = None  # None: the policy's source_rules.fail_on
    offline: bool = False
    fail_open: bool = False
    retries: int = 3  # verdict API retries after the first try (backoff 0.5 s, doubling)
    timeout: float = 60.0  # seconds to wait for the verdict API's answer
    token: str = field(default="", repr=False)  # GOPROXY_SCAN_TOKEN only; never in a file
    jobs: int = 0  # 0: one per CPU
    cache_dir: Path | None = None
    source_rules: bool = True
    vulndb: str = ""  # vulnerability database URL or directory; "" -> not checked

    @property
    def sbom_output_format(self) -> SbomFormat:
        if self.sbom_format is not None:
            return self.sbom_format
        suffix = self.sbom.suffix.lower() if self.sbom else ""
        return SbomFormat.XML if suffix == ".xml" else SbomFormat.JSON


# Keys the policy file's `scan:` section and the environment may set, with their parsers.
def _bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise InputError(f"{where}: {value!r} is not a boolean", hint="use true or false")


def _fail_mode(value: object, where: str) -> bool:
    text = str(value).strip().lower()
    if text not in {"open", "closed"}:
        raise InputError(f"{where}: {value!r} is not a fail mode", hint="use open or closed")
    return text == "open"


def one_per_destination(outputs: Sequence[Output], given: Sequence[str], spell: str = "") -> None:
    """At most one report per destination. On standard output (`-`, or a path that names the
    stream: /dev/stdout, or the file stdout is redirected to) two documents one after the other
    (JSON then SARIF, or JSON twice) parse as neither; in one file the last replaces the rest.

    `given` names each output as the user wrote it; `spell` is how a format is written where
    the user gives it (`--format ` for the flag), for the hint."""
    by_destination: dict[object, list[tuple[Output, str]]] = {}
    for out, name in zip(outputs, given, strict=True):
        by_destination.setdefault(_destination(out.path), []).append((out, name))
    for destination, sharing in by_destination.items():
        if len(sharing) < 2:
            continue
        names = " and ".join(name for _out, name in sharing)
        both = "both" if len(sharing) == 2 else "all"
        last = sharing[-1][0].format
        if destination is _STDOUT:
            example = f"{spell}{last.value}={_example_file(last)}"
            raise InputError(
                f"{names} {both} write to standard output, where the reports would run "
                "together and none could be read",
                hint=f"give all but one of them a file, e.g. {example}",
            )
        raise InputError(
            f"{names} {both} write to {sharing[-1][0].path}, where the last would replace the "
            "others",
            hint="give each report a file of its own",
        )


_STDOUT = object()


def _destination(path: str) -> object:
    """What writing to `path` writes to: _STDOUT for the process's standard output by any
    name, else the file (its device and inode, or its absolute name if not there yet)."""
    if path == "-":
        return _STDOUT
    try:
        st = os.stat(path)
    except OSError:
        return os.path.abspath(path)
    if os.path.realpath(path) == os.devnull:
        return object()  # reports thrown away do not run together
    try:
        out = os.fstat(1)
    except OSError:  # no standard output at all
        out = None
    if out is not None and (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
        return _STDOUT
    return (st.st_dev, st.st_ino)


def _example_file(fmt: OutputFormat) -> str:
    """A file name for a format, as hints suggest it."""
    return {
        OutputFormat.CONSOLE: "report.txt",
        OutputFormat.JSON: "result.json",
        OutputFormat.SARIF: "report.sarif",
        OutputFormat.GITHUB: "annotations.txt",
        OutputFormat.MARKDOWN: "report.md",
        OutputFormat.GITLAB: "gl-code-quality-report.json",
        OutputFormat.CYCLONEDX: "sbom.cdx.json",
        OutputFormat.OPENVEX: "vex.json",
    }[fmt]


def _outputs(value: object, where: str) -> tuple[Output, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    outs = []
    for item in items:
        fmt, _, path = str(item).strip().partition("=")
        outs.append(Output(OutputFormat.parse(fmt), path or "-"))
    if not outs:
        raise InputError(f"{where}: no report format given")
    one_per_destination(outs, [str(item).strip() for item in items])
    return tuple(outs)


def _float(value: object, where: str) -> float:
    try:
        return float(str(value))
    except ValueError as e:
        raise InputError(f"{where}: {value!r} is not a number of seconds") from e


def _int(value: object, where: str) -> int:
    try:
        return int(str(value))
    except ValueError as e:
        raise InputError(f"{where}: {value!r} is not a number") from e


def _text(value: object, where: str) -> str:
    """A path or name setting: one scalar (a list or mapping made paths like "['x', 'y']")."""
    if isinstance(value, (list, dict)):
        kind = "list" if isinstance(value, list) else "mapping"
        raise InputError(f"{where}: must be a string, not a {kind}", hint="give one value")
    return str(value) if value is not None else ""


def _count(value: object, where: str) -> int:
    n = _int(value, where)
    if n < 0:
        raise InputError(f"{where}: {value!r} is negative", hint="give 0 or more")
    return n


def _seconds(value: object, where: str) -> float:
    s = _float(value, where)
    if not 0 < s < float("inf"):
        raise InputError(f"{where}: {value!r} is not a positive number of seconds")
    return s


def _proxy(value: object, where: str) -> str:
    """An http(s):// verdict API or a file:// tree; anything else was silently not asked."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return ""
    from .cienv import check_proxy_url  # imports requests: only when a proxy is given

    return check_proxy_url(text)


_SETTINGS: dict[str, tuple[str, Any]] = {
    # key (file and env) -> (ScanConfig field, parser(value, where))
    "proxy": ("proxy", _proxy),
    "base": ("base", _text),
    "format": ("outputs", _outputs),
    "sbom": ("sbom", lambda v, w: Path(_text(v, w)) if v else None),
    "sbom_spec": ("sbom_spec", lambda v, w: _enum(SpecVersion, v, w)),
    "fail_on": ("fail_on", lambda v, w: Severity.parse(v)),
    "offline": ("offline", _bool),
    "fail_mode": ("fail_open", _fail_mode),
    "reproducible": ("reproducible", _bool),
    "jobs": ("jobs", _count),
    "retries": ("retries", _count),
    "timeout": ("timeout", _seconds),
    "cache_dir": ("cache_dir", lambda v, w: Path(_text(v, w)) if v else None),
    "source_rules": ("source_rules", _bool),
    "vulndb": ("vulndb", lambda v, w: _text(v, w) if v else ""),
}
# Settings read only from the environment (a token never belongs in a committed file).
_ENV_ONLY: dict[str, tuple[str, Any]] = {
    "token": ("token", lambda v, w: str(v)),
    "policy": ("policy_file", lambda v, w: Path(str(v)) if v else None),
}


def _enum(cls: Any, value: object, where: str) -> Any:
    try:
        return cls(str(value))
    except ValueError as e:
        names = ", ".join(m.value for m in cls)
        raise InputError(f"{where}: {value!r} is not one of {names}") from e


def _parse(parse: Any, value: object, where: str) -> Any:
    """Run a setting's parser; every error names the file and key or the variable."""
    try:
        return parse(value, where)
    except InputError as e:
        if e.message.startswith(where):
            raise
        raise InputError(f"{where}: {e.message}", hint=e.hint) from e


def find_policy_file(main_dir: Path) -> Path | None:
    """`.goproxy-scan.yml` in the module directory or the nearest parent up to the git root."""
    for parent in (main_dir.resolve(), *main_dir.resolve().parents):
        candidate = parent / DEFAULT_POLICY_FILE
        if candidate.is_file():
            return candidate
        if (parent / ".git").exists():
            break
    return None


def file_settings(policy_file: Path) -> dict[str, Any]:
    """The policy file's `scan:` section as ScanConfig field values.

    `scan` and `policy check` both read the section here, so a file the check passes is one
    scan takes; every error names the file, the line and the key.
    """
    from .policy.model import line_of  # the policy package is loaded by scan in any case

    try:
        text = policy_file.read_bytes().decode("utf-8")
        root = yaml.compose(text)
        data = safe_load(text, bad_dates_as_text=True)  # the policy parser refuses them
    except OSError as e:
        raise InputError(f"cannot read the policy file: {e.strerror}", path=str(policy_file)) from e
    except UnicodeDecodeError as e:
        bad, at = utf8_problem(e)
        raise InputError(bad, path=str(policy_file), line=at, hint="save the file as UTF-8") from e
    except yaml.YAMLError as e:
        problem, line = yaml_problem(e)
        raise InputError(f"not YAML: {problem}", path=str(policy_file), line=line) from e
    section = data.get("scan") if isinstance(data, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InputError(
            "`scan:` must be a mapping", path=str(policy_file), line=line_of(root, ["scan"], None)
        )
    out: dict[str, Any] = {}
    for key, value in section.items():
        line = line_of(root, ["scan"], key)  # the key's: a list value starts below it
        if key not in _SETTINGS:
            raise InputError(
                f"unknown key scan.{key}",
                path=str(policy_file),
                line=line,
                hint=_unknown_key_hint(str(key)),
            )
        name, parse = _SETTINGS[key]
        try:
            out[name] = _parse(parse, value, f"scan.{key}")
        except InputError as e:
            raise InputError(e.message, path=str(policy_file), line=line, hint=e.hint) from e
    return out


def _unknown_key_hint(key: str) -> str:
    """The keys `scan:` knows, and the one a typo was meant for (`fial_on`: fail_on)."""
    known = ", ".join(sorted(_SETTINGS))
    if key in _ENV_ONLY:
        var = ENV_PREFIX + key.upper()
        return f"{key} is read only from {var}, never from a file; known keys: {known}"
    near = difflib.get_close_matches(key, _SETTINGS, n=1)
    return f"did you mean {near[0]}? known keys: {known}" if near else f"known keys: {known}"


def env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (name, parse) in {**_SETTINGS, **_ENV_ONLY}.items():
        var = ENV_PREFIX + key.upper()
        if env.get(var, "") != "":
            out[name] = _parse(parse, env[var], var)
    return out


def load_config(flags: Mapping[str, Any], env: Mapping[str, str] | None = None) -> ScanConfig:
    """Merge the layers; `flags` holds only what the user passed (None/absent: not given)."""
    env = os.environ if env is None else env
    given = {k: v for k, v in flags.items() if v is not None}
    known = {f.name for f in fields(ScanConfig)}
    unknown = set(given) - known
    if unknown:
        raise InputError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if given.get("proxy"):
        given["proxy"] = _parse(_proxy, given["proxy"], "--proxy")
    from_env = env_settings(env)
    main_dir = Path(given.get("main_dir", Path(".")))
    policy_file = given.get("policy_file") or from_env.get("policy_file")
    if policy_file is None:
        policy_file = find_policy_file(main_dir)
    elif not Path(policy_file).is_file():
        raise InputError("the policy file does not exist", path=str(policy_file))
    from_file = file_settings(Path(policy_file)) if policy_file is not None else {}
    config = replace(ScanConfig(), **{**from_file, **from_env, **given})
    return replace(config, main_dir=main_dir, policy_file=policy_file)
