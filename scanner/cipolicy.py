"""CI inputs `allow-licenses`/`deny-licenses` layered over the policy file, as a new file."""

# The GitHub Action and the GitLab template run `python -m scanner.cipolicy` and pass the result
# to `scan --policy`, so the inputs mean exactly what the same lines in the file would mean.

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml

from .config import find_policy_file
from .errors import InputError, yaml_problem
from .exitcodes import ExitCode
from .policy import license_entry, parse_policy
from .yamlfile import safe_load


def _items(value: str) -> list[str]:
    return [x.strip() for x in value.replace("\n", ",").split(",") if x.strip()]


def overlay_licenses(text: str, allow: list[str], deny: list[str], source: str) -> str:
    """The policy YAML with `allow` added to licenses.allow and `deny` to licenses.deny.

    An entry moves out of the other list (an input that allows GPL-3.0-only overrides the file's
    deny of it); naming one entry in both inputs is an error.
    """
    # Compared as the policy compares them: `mit` is MIT (an input denying MIT moves the file's
    # `mit` out of its allow list too).
    allowed, denied = {_same(x) for x in allow}, {_same(x) for x in deny}
    both = sorted(allowed & denied)
    if both:
        raise InputError(
            f"{', '.join(both)} is both allowed and denied by the CI inputs",
            hint="name it in allow-licenses or in deny-licenses, not both",
        )
    try:
        # An impossible date stays text: the policy parse below names its key.
        data: Any = safe_load(text, bad_dates_as_text=True) or {}
    except yaml.YAMLError as e:
        problem, line = yaml_problem(e)
        raise InputError(f"not valid YAML: {problem}", path=source, line=line) from e
    if not isinstance(data, dict):
        raise InputError("the policy is not a mapping", path=source)
    licenses = data.setdefault("licenses", {}) or {}
    data["licenses"] = licenses
    file_allow = [x for x in licenses.get("allow", []) if _same(str(x)) not in denied]
    file_deny = [x for x in licenses.get("deny", []) if _same(str(x)) not in allowed]
    licenses["allow"] = file_allow + [x for x in allow if x not in file_allow]
    licenses["deny"] = file_deny + [x for x in deny if x not in file_deny]
    out = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parse_policy(out, f"{source} + allow-licenses/deny-licenses")  # fail here, with names
    return out


def _same(entry: str) -> str:
    """A list entry as the policy compares it; as written when it is no license (the policy
    parse afterwards names it)."""
    try:
        return license_entry(entry, "")
    except InputError:
        return entry


@click.command()
@click.option("--policy", "policy_file", default="", help="The policy file ('' to search).")
@click.option(
    "--dir",
    "main_dir",
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to search for .goproxy-scan.yml when --policy is empty.",
)
@click.option("--allow", default="", help="Comma-separated SPDX ids or categories to allow.")
@click.option("--deny", default="", help="Comma-separated SPDX ids or categories to deny.")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the combined policy.",
)
def main_command(policy_file: str, main_dir: Path, allow: str, deny: str, output: Path) -> int:
    """Write the policy with the CI license inputs applied; print its path."""
    from .commands.report import write_text

    path = Path(policy_file) if policy_file else find_policy_file(main_dir)
    if path is None:
        source = "<built-in default policy>"
        text = resources.files("scanner.policy").joinpath("default.yml").read_text("utf-8")
    else:
        source = str(path)
        try:
            text = path.read_text("utf-8")
        except OSError as e:
            raise InputError(f"cannot read the policy file: {e.strerror}", path=source) from e
    combined = overlay_licenses(text, _items(allow), _items(deny), source)
    write_text(output, combined, "the policy")
    click.echo(str(output))
    return int(ExitCode.PASS)


def main() -> None:
    from .cli import run

    sys.exit(run(main_command, prog_name="python -m scanner.cipolicy"))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
