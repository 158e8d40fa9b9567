"""Benchmarks: real processes on real servers, figures printed for docs/performance.md."""
