"""Run every benchmark: `python -m benchmarks` (or `make bench`)."""

from __future__ import annotations

from benchmarks import token_lookup, verify_throughput

verify_throughput.main()
token_lookup.main()
