"""Helpers for the CLI-contract, bad-input and durability tests (assertions and child scripts)."""
