"""YAML as every file this distribution reads is loaded: PyYAML's safe loader, with a value it
cannot construct refused as a YAMLError at its line.

PyYAML's `safe_load` turns an unquoted `YYYY-MM-DD` into a `date` and lets the ValueError of an
impossible one (`2027-13-01`, `2027-02-30`) escape, and so for a tagged value it cannot read
(`!!int x`): a traceback where the user should read which line to correct. Every error here is
a `yaml.YAMLError` with a `problem_mark`, so `scanner.errors.yaml_problem` words it.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

_TAG_PREFIX = "tag:yaml.org,2002:"
_TIMESTAMP = _TAG_PREFIX + "timestamp"
# What PyYAML's constructors raise for a value they cannot read.
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, OverflowError)


def _not_a_date(node: yaml.Node) -> str:
    value = str(node.value)
    if len(value) == len("YYYY-MM-DD"):
        return f"{value} is not a date (use YYYY-MM-DD; quote a value that is not a date)"
    return (
        f"{value} is not a date and time (use YYYY-MM-DDTHH:MM:SSZ; quote a value that is "
        "not a time)"
    )


class _Loader(yaml.SafeLoader):
    """Refuses an impossible date, or any value its tag cannot read, with its line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except _UNREADABLE as e:
            tag = str(node.tag).removeprefix(_TAG_PREFIX)
            raise ConstructorError(
                None,
                None,
                f"{node.value!r} is not a valid {tag} (correct it, or quote it if it is text)",
                node.start_mark,
            ) from e

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except _UNREADABLE as e:
            raise ConstructorError(None, None, _not_a_date(node), node.start_mark) from e


class _TextLoader(_Loader):
    """Keeps an impossible date as the text written, for a reader that checks the value itself
    and can name its key (the policy: `exceptions[0].expires: 2027-13-01 is not a date`)."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(self, node)
        except _UNREADABLE:
            return str(node.value)


_Loader.add_constructor(_TIMESTAMP, _Loader.construct_yaml_timestamp)
_TextLoader.add_constructor(_TIMESTAMP, _TextLoader.construct_yaml_timestamp)


def safe_load(text: str | bytes, *, bad_dates_as_text: bool = False) -> Any:
    """`yaml.safe_load`, but a value PyYAML cannot construct is a `yaml.YAMLError` at its line;
    with `bad_dates_as_text` an impossible date is kept as the text written instead."""
    loader = _TextLoader(text) if bad_dates_as_text else _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
