"""Benchmarks: `scripts/run python -m benchmarks.run --scale smoke|full` (see README.md)."""
