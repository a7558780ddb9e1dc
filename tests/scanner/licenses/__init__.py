"""Tests of license detection against the SPDX templates."""
