"""Per-request cost in process, bcapp beside the minimal views: where a ratio's gap is spent.

`make bench` measures whole requests under gunicorn and wrk; this calls each app's WSGI
callable directly (no sockets, no gunicorn, no access log) on a real Redis, so what differs is
only the apps' own work: the load callback against benchmarks/minimal_load.py's load view, the
app page `/hello` (benchmarks/own_page.py) against its minimal session-checking view, and the
webhook intake (one declared handler, distinct signed deliveries, tasks left in the Redis broker)
against benchmarks/minimal_intake.py (for the intake a ratio above 1 is bcapp's lead). It
prints CPU microseconds per request, the two apps taking turns round by round: each app's
fastest round (noise only ever slows a round down) and the median of the paired rounds'
ratios; with `--profile`, the functions the requests spend their time in (cProfile).

    python -m benchmarks.per_request [--profile]
"""

from __future__ import annotations

import cProfile
import importlib
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.test import EnvironBuilder

from bcapp.process import configure_process
from benchmarks.load_throughput import install_store, load_paths
from benchmarks.serving import app_environment, free_port, redis_server
from benchmarks.webhook_intake import SECRET, signed_deliveries

# A request to send: a GET of a path, or a webhook delivery (its body and headers).
Sent = str | tuple[bytes, dict[str, str]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
REQUESTS = 250  # per round: short rounds, so a pair's two rounds meet the same machine
ROUNDS = 40
HOST = "127.0.0.1"
HELLO: Sent = "/hello"
PROFILE_LINES = 70


def main(profile: bool = False) -> None:
    """Print each path's microseconds per request, bcapp and minimal, and their ratio."""
    configure_process()
    with redis_server() as redis_url:
        env = app_environment(redis_url, free_port())
        env["BCAPP_BLUEPRINTS"] = "benchmarks.own_page:bp"
        env["BCAPP_RECEIVERS"] = "benchmarks.bench_handlers"  # the intake queues one task
        env["BC_CLIENT_SECRET"] = SECRET  # what the deliveries are signed with
        os.environ.update(env)  # the apps read their configuration from the environment
        install_store(env)
        minimal: WsgiApp = importlib.import_module("benchmarks.minimal_load").app
        minimal_intake: WsgiApp = importlib.import_module("benchmarks.minimal_intake").app
        from wsgi import app as bcapp_app

        count = REQUESTS * (ROUNDS + 2)  # the last round's payloads for the profile
        bcapp_loads: list[Sent] = list(load_paths(env, count, "inproc-"))
        minimal_loads: list[Sent] = list(load_paths(env, count, "inproc-minimal-"))
        bcapp_cookie = _cookie(bcapp_app, load_paths(env, 1, "inproc-cookie-")[0])
        minimal_cookie = _cookie(minimal, load_paths(env, 1, "inproc-mcookie-")[0])
        pairs = (
            ("load", (minimal, minimal_loads, ""), (bcapp_app, bcapp_loads, "")),
            ("/hello", (minimal, [HELLO], minimal_cookie), (bcapp_app, [HELLO], bcapp_cookie)),
            ("intake", (minimal_intake, _deliveries(count), ""),
             (bcapp_app, _deliveries(count), "")),
        )
        for name, (m_app, m_paths, m_cookie), (b_app, b_paths, b_cookie) in pairs:
            m_costs, b_costs = _paired_costs((m_app, m_paths, m_cookie), (b_app, b_paths, b_cookie))
            ratios = sorted(m / b for m, b in zip(m_costs, b_costs, strict=True))
            m_cost, b_cost = min(m_costs), min(b_costs)
            print(f"{name}: minimal {m_cost:.0f} µs, bcapp {b_cost:.0f} µs (fastest rounds), "
                  f"difference {b_cost - m_cost:.0f} µs, ratio {m_cost / b_cost:.2f}; paired "
                  f"rounds {statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})")
            if profile:
                print(f"--- {name}, minimal view")
                _profile(m_app, m_paths, m_cookie)
                print(f"--- {name}, bcapp")
                _profile(b_app, b_paths, b_cookie)


def _deliveries(count: int) -> list[Sent]:
    """`count` distinct signed webhook deliveries (benchmarks/webhook_intake.py's)."""
    return list(signed_deliveries(count))


def _environs(paths: list[Sent], cookie: str, first: int, count: int) -> Iterator[dict[str, Any]]:
    """WSGI environs of `paths[first:first + count]` (cycling), with the cookie when given."""
    headers = [("Cookie", cookie)] if cookie else []
    for n in range(first, first + count):
        sent = paths[n % len(paths)]
        base_url = f"http://{HOST}:8000"
        if isinstance(sent, str):
            builder = EnvironBuilder(path=sent, base_url=base_url, headers=headers)
        else:
            body, signed = sent
            builder = EnvironBuilder(
                path="/bigcommerce/webhooks", base_url=base_url, method="POST", data=body,
                headers=[*headers, *signed.items(), ("Content-Type", "application/json")],
            )
        yield builder.get_environ()


def _run(app: WsgiApp, environs: list[dict[str, Any]]) -> float:
    """CPU seconds of this process for serving every environ (each a copy: WSGI apps write to
    theirs). CPU time, not wall time: Redis's own time is the same for both apps, and other
    processes on a shared machine do not count."""
    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        if not status.startswith(("200", "302")):
            raise RuntimeError(f"unexpected answer {status}")

    copies = [dict(environ) for environ in environs]
    started = time.process_time()
    for environ in copies:
        body = app(environ, start_response)
        for _chunk in body:
            pass
        getattr(body, "close", lambda: None)()
    return time.process_time() - started


def _paired_costs(
    minimal: tuple[WsgiApp, list[Sent], str], ours: tuple[WsgiApp, list[Sent], str]
) -> tuple[list[float], list[float]]:
    """Microseconds per request of each, round by round, the two taking turns after a warm-up
    round each (a slow spell of a shared machine touches both of a round)."""
    batches = [_batches(*minimal), _batches(*ours)]
    for (app, *_), rounds in zip((minimal, ours), batches, strict=True):
        _run(app, rounds[0])
    costs: tuple[list[float], list[float]] = ([], [])
    for number in range(1, ROUNDS + 1):
        for (app, *_), rounds, found in zip((minimal, ours), batches, costs, strict=True):
            found.append(_run(app, rounds[number]) / REQUESTS * 1e6)
    return costs


def _batches(app: WsgiApp, paths: list[Sent], cookie: str) -> list[list[dict[str, Any]]]:
    """ROUNDS + 1 batches of REQUESTS environs (the first to warm up)."""
    environs = list(_environs(paths, cookie, 0, REQUESTS * (ROUNDS + 1)))
    return [environs[n * REQUESTS : (n + 1) * REQUESTS] for n in range(ROUNDS + 1)]


def _profile(app: WsgiApp, paths: list[Sent], cookie: str) -> None:
    """cProfile of one round of fresh requests, the costliest functions first."""
    environs = list(_environs(paths, cookie, REQUESTS * (ROUNDS + 1), REQUESTS))
    profiler = cProfile.Profile()
    profiler.enable()
    _run(app, environs)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(PROFILE_LINES)


def _cookie(app: WsgiApp, load_path: str) -> str:
    """The `name=value` of the session cookie `app`'s load sets."""
    found: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        found.extend(value.split(";", 1)[0] for name, value in headers if name == "Set-Cookie")

    environ = EnvironBuilder(path=load_path, base_url=f"http://{HOST}:8000").get_environ()
    list(app(environ, start_response))
    if not found:
        raise RuntimeError("the load set no cookie")
    return found[-1]


if __name__ == "__main__":
    main(profile="--profile" in sys.argv)
