"""Run every benchmark: `python -m benchmarks` (or `make bench`)."""

from __future__ import annotations

from bcapp.process import configure_process
from benchmarks import token_lookup, verify_throughput

configure_process()
verify_throughput.main()
token_lookup.main()
