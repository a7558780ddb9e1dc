"""The policy both halves enforce: load and validate it, and judge a module by it."""

from __future__ import annotations

from .evaluate import ModuleFacts, evaluate, judge_zip
from .model import (
    Action,
    DeniedModule,
    LicenseException,
    LicenseRules,
    Policy,
    SourceRules,
    allowlist_policy,
    default_policy,
    license_entry,
    load_policy,
    parse_policy,
    schema,
)
from .selectors import VersionRange, module_matches

__all__ = [
    "Action",
    "DeniedModule",
    "LicenseException",
    "LicenseRules",
    "ModuleFacts",
    "Policy",
    "SourceRules",
    "VersionRange",
    "allowlist_policy",
    "default_policy",
    "evaluate",
    "judge_zip",
    "license_entry",
    "load_policy",
    "module_matches",
    "parse_policy",
    "schema",
]
