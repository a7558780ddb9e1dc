"""Subcommands of the go-vault CLI, one module each."""
