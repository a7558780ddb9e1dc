"""Subcommands of the goproxy-scan CLI, one module each."""
