"""Storefront scripts kept per store (issue 29, acceptance 1) and the Customer Login link
(acceptance 3), against the simulator over HTTP: the install's task creates each declared script
with its consent category on each chosen channel; reconcile updates a changed declaration,
deletes an undeclared one, and reports (does not re-create) one the merchant removed, which
`bcapp storefront restore` puts back; a login link works once, within 30 seconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask

from bcapp import storefront
from bcapp.cli import main
from bcapp.clock import ManualClock
from bcapp.errors import ConfigurationError
from bcapp.scopes import ScopeSet
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.storefront import scripts
from tests.conftest import service_of
from tests.helpers import DEFAULT_SCOPE, install
from tests.test_cli import cli_env
from tests.workers import running_worker, wait_until

SCOPES = f"{DEFAULT_SCOPE} store_v2_content store_v2_customers_login"
SRC = "https://app.example.com/badge.js"


def declare(**changes: Any) -> None:
    scripts._declared.clear()  # the app's next release (conftest.py restores the registry)
    storefront.script("badge", **({"src": SRC, "consent_category": "functional",
                                    "load_method": "defer", "channels": (1, 2)} | changes))


def placed(sim: SimulatorState) -> list[tuple[str, int, str, str, bool]]:
    return sorted((s.name, s.channel_id, s.consent_category, s.load_method, s.auto_uninstall)
                  for s in sim.stores["abc123"].scripts)


@pytest.fixture
def shop(make_app: Callable[..., Flask], sim: SimulatorState, clock: ManualClock) -> Flask:
    declare()
    sim.stores["abc123"].channels = [1, 2]
    # The app and the simulated BigCommerce share one stopped clock: a login link's 30 s are
    # the test's own, however slowly a loaded machine runs it.
    app = make_app(required_scopes=ScopeSet.parse(SCOPES), clock=clock)
    with running_worker(service_of(app)):
        assert install(app.test_client(), sim, scope=SCOPES).status_code == 302
        wait_until(lambda: len(sim.stores["abc123"].scripts) == 2, what="the install's task")
    return app


def test_the_install_places_each_script_on_each_channel_and_reconcile_keeps_it_true(
    shop: Flask, sim: SimulatorState
) -> None:
    assert placed(sim) == [("badge", 1, "functional", "defer", True),
                           ("badge", 2, "functional", "defer", True)]
    service = service_of(shop)
    assert service.operations.reconcile(only="abc123").hooks == [], "a second sync: unchanged"
    declare(load_method="async", channels=(1,))
    report = service.operations.reconcile(only="abc123")
    assert report.hooks == [
        "store abc123: storefront scripts updated badge (channel 1); deleted badge (channel 2)"
    ]
    assert placed(sim) == [("badge", 1, "functional", "async", True)]
    scripts._declared.clear()
    assert "deleted badge (channel 1)" in service.operations.reconcile(only="abc123").hooks[0]
    assert sim.stores["abc123"].scripts == []


def test_a_script_the_merchant_removed_is_reported_and_restored_only_when_asked(
    shop: Flask, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    store = sim.stores["abc123"]
    store.scripts = [script for script in store.scripts if script.channel_id != 2]
    service = service_of(shop)
    report = service.operations.reconcile(only="abc123")
    assert report.hooks == ["store abc123: storefront scripts removed by the merchant "
                            "(bcapp storefront restore puts them back) badge (channel 2)"]
    assert len(store.scripts) == 1, "not re-created on bcapp's own"
    assert service.operations.reconcile(only="abc123").hooks, "still reported"
    assert len(store.scripts) == 1
    env = cli_env(settings, tmp_path) | {"BCAPP_RECEIVERS": "", "APP_URL": settings.app_url}
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=env)
    assert "storefront scripts removed by the merchant: badge (channel 2)" in shown.output
    restored = CliRunner().invoke(main, ["storefront", "restore", "abc123"], env=env)
    assert restored.exit_code == 0, restored.output
    assert "created badge (channel 2)" in restored.output
    assert placed(sim) == [("badge", 1, "functional", "defer", True),
                           ("badge", 2, "functional", "defer", True)]


def test_a_login_link_works_once_and_only_within_thirty_seconds(
    shop: Flask, sim: SimulatorState, clock: ManualClock
) -> None:
    service = service_of(shop)
    url = service.storefront.login_url("abc123", 1, redirect_to="/cart.php")
    first = requests.get(url, allow_redirects=False, timeout=10)
    assert first.status_code in (302, 303) and first.headers["Location"].endswith("/cart.php")
    again = requests.get(url, allow_redirects=False, timeout=10)
    assert again.status_code == 400, "a link works once"
    late = service.storefront.login_url("abc123", 1)
    clock.advance(31)
    assert requests.get(late, allow_redirects=False, timeout=10).status_code == 400
    assert [attempt.refused for attempt in sim.login_attempts] == ["", "replayed", "iat"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"src": "http://app.example.com/a.js"}, "src must be an https URL"),
        ({"consent_category": "unknown"}, "consent_category must be one of"),
        ({"location": "body"}, "location must be one of"),
        ({"integrity": ["md5-abc"]}, "integrity takes up to five"),
        ({"channels": (0,)}, "channels are channel ids"),
        ({"channels": tuple(range(1, 12))}, "allows an app 10 scripts per store"),
    ],
)
def test_a_wrong_script_is_refused_when_declared(changes: dict[str, Any], message: str) -> None:
    scripts._declared.clear()
    given = {"src": SRC, "consent_category": "functional"} | changes
    with pytest.raises(ConfigurationError, match=message):
        storefront.script("badge", **given)
    assert scripts.declared() == ()


def test_a_checkout_script_requires_the_checkout_content_scope() -> None:
    from bcapp.scopes import required_scopes

    scripts._declared.clear()
    storefront.script("pixel", src=SRC, consent_category="analytics", visibility="checkout")
    assert {"store_v2_content", "store_content_checkout"} <= required_scopes().names
