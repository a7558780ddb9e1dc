"""Source rules over the main module's Go code: catalogue, engine, suppressions, cache, runner.

`scan_sources(main_dir, cache_dir=..., jobs=...) -> SourceScan` is the entry point; importing
this package stays cheap (tree-sitter loads on the first parse).
"""

from ..result import Severity
from .catalog import BY_ID, RULES, RuleSpec, describe
from .runner import Finding, SourceScan, scan_sources

__all__ = [
    "BY_ID",
    "RULES",
    "Finding",
    "RuleSpec",
    "Severity",
    "SourceScan",
    "describe",
    "scan_sources",
]
