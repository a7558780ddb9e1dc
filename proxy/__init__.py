"""go-vault: the private Go module proxy (gateway, auditor, vault) built on scanner's analysis."""
