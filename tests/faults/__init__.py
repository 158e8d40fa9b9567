"""Fault and bad-input campaign on real processes (docs/reliability.md)."""
