"""goproxy-scan's Go-analysis library: modules, parsers, build list, licenses, policy, SBOM."""

__version__ = "0.1.0"
