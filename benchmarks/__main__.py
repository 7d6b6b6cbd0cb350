"""Run every benchmark: `python -m benchmarks` (or `make bench`)."""

from __future__ import annotations

from benchmarks import verify_throughput

verify_throughput.main()
