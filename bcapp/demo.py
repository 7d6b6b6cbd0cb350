"""`bcapp demo`: a scripted walk through the whole app lifecycle against the simulator.

Development wiring: it runs the app and the simulator side by side on loopback ports, so it is
one of the places (with the CLI and the test kit, bcapp/testing/) that import the simulator.

install -> load (owner) -> second user -> a forged uninstall undone by the owner's next open ->
remove user -> uninstall -> re-install, each step checked; any surprise ends the walk with a
non-zero exit status.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import requests

from bcapp.app_spec import load_declarations
from bcapp.billing.config import simulator_seed
from bcapp.clock import ManualClock
from bcapp.crypto import new_key_entry, parse_keys
from bcapp.settings import Settings
from bcapp.simulator import ServedApp, create_simulator, driver, seeded_state
from bcapp.simulator.state import SimulatorState
from bcapp.store import embedded

STORE, OWNER, STAFF = "demo1234", 1001, 1002


class DemoFailure(Exception):
    """A step did not behave as BigCommerce and the app promise."""


class Browser:
    """A minimal browser for the iframe: one cookie, no redirects followed automatically."""

    def __init__(self) -> None:
        self.cookie = ""

    def get(self, url: str) -> requests.Response:
        """GET `url`, keeping the session cookie (sent over http here, as on loopback)."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        response = requests.get(url, headers=headers, allow_redirects=False, timeout=15)
        if "Set-Cookie" in response.headers:
            self.cookie = response.headers["Set-Cookie"].split(";")[0]
        return response

    def follow(self, url: str, base: str) -> requests.Response:
        """GET `url` and one same-app redirect, as the iframe would."""
        response = self.get(url)
        if response.status_code in (302, 303):
            response = self.get(base + response.headers["Location"])
        return response


def run(echo: Callable[[str], None] = click.echo) -> None:
    """Run every step; raise DemoFailure on the first surprise."""
    with _world() as (sim, app_url, clock):
        owner, staff = Browser(), Browser()

        def step(title: str, check: Callable[[], str]) -> None:
            echo(f"- {title}: {check()}")

        step(
            "install as the store owner",
            lambda: _page(
                owner.follow(driver.install_url(sim, STORE, OWNER), app_url), 200, "installed"
            ),
        )
        step(
            "open the app as the owner",
            lambda: _page(
                owner.follow(driver.open_url(sim, STORE, OWNER), app_url), 200, "owner@demo1234"
            ),
        )
        step(
            "open the app as a second user",
            lambda: _page(
                staff.follow(driver.open_url(sim, STORE, STAFF), app_url), 200, "staff@demo1234"
            ),
        )
        step(
            "the second user sends an unused load payload to /uninstall (forged)",
            lambda: _callback(driver.forge_uninstall(sim, STORE, STAFF)),
        )
        step("every session died with it", lambda: _page(staff.get(app_url + "/"), 401, ""))
        clock.advance(120)
        step(
            "two minutes later the owner opens the app: the uninstall was forged, reinstated",
            lambda: _page(
                owner.follow(driver.open_url(sim, STORE, OWNER), app_url), 200, "owner@demo1234"
            ),
        )
        step("remove the second user", lambda: _callback(driver.remove_user(sim, STORE, STAFF)))
        step(
            "the removed user's session is refused",
            lambda: _page(staff.get(app_url + "/"), 401, ""),
        )
        kept = driver.open_url(sim, STORE, OWNER)  # issued now, not used
        step("uninstall", lambda: _callback(driver.uninstall(sim, STORE, OWNER)))
        step("the owner's session is refused", lambda: _page(owner.get(app_url + "/"), 401, ""))
        step(
            "a load payload issued before the uninstall is refused",
            lambda: _page(owner.get(kept), 401, "not installed"),
        )
        step(
            "re-install",
            lambda: _page(
                owner.follow(driver.install_url(sim, STORE, OWNER), app_url), 200, "installed"
            ),
        )
    echo("demo finished: every step behaved as expected")


def _page(response: requests.Response, status: int, text: str) -> str:
    if response.status_code != status or text.lower() not in response.text.lower():
        raise DemoFailure(f"expected {status} with {text!r}, got {response.status_code}")
    return f"{response.status_code} as expected"


def _callback(result: driver.CallbackResult) -> str:
    if not result.ok:
        raise DemoFailure(f"the app answered {result.status}")
    return f"app answered {result.status} {result.body.strip()}"


@contextmanager
def _world() -> Iterator[tuple[SimulatorState, str, ManualClock]]:
    """The app and the simulator on free loopback ports, sharing a throwaway Redis and a clock.

    The clock starts at the present and moves only when the walk says "later", so the demo
    can show rules about time (a forged uninstall is undone by a load issued after it) without
    waiting.
    """
    from bcapp.web import create_app

    with tempfile.TemporaryDirectory(prefix="bcapp-demo-") as folder:
        instance = Path(folder)
        redis_url = embedded.ensure_running(instance)
        wsgi: dict[str, Any] = {}
        try:
            with (
                ServedApp(lambda env, start: wsgi["app"](env, start)) as app_server,
                ServedApp(lambda env, start: wsgi["sim"](env, start)) as sim_server,
            ):
                settings = load_declarations(  # the scopes the simulated store grants
                    Settings(
                        client_id="bcapp-demo",
                        client_secret=secrets.token_urlsafe(24),
                        secret_key=secrets.token_urlsafe(48),
                        token_keys=parse_keys(new_key_entry()),
                        app_url=app_server.url,
                        redis_url=redis_url,
                        login_url=sim_server.url,
                        api_url=sim_server.url,
                        instance_dir=instance,
                    )
                )
                sim = seeded_state(
                    client_id=settings.client_id,
                    client_secret=settings.client_secret,
                    redirect_uri=settings.auth_callback_url,
                    app_url=settings.app_url,
                    app_scopes=str(settings.required_scopes),
                    **simulator_seed(settings.billing),
                )
                clock = ManualClock(start=float(int(time.time())))
                sim.clock = clock.now
                wsgi["sim"] = create_simulator(sim)
                wsgi["app"] = create_app(settings, clock=clock)
                yield sim, app_server.url, clock
        finally:
            embedded.stop(instance)
