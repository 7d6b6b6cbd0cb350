"""Failure drills (issue 32, Build 4): bcapp under steady load while a part of it fails.

`python -m benchmarks.drills` (`make drill`) runs each fault for real and prints one table row
per fault; `--short` is the CI form (docs/operations.md).
"""
