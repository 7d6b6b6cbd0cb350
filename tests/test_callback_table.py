"""Each callback is declared once (bcapp/endpoints.py); its route, guards and metrics follow.

A callback declared here, in a test, gets the method guard, the per-address limit and its
metrics without touching another file; every refusal is timed in `bcapp_request_seconds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from bcapp import endpoints
from bcapp.endpoints import Callback
from bcapp.settings import Settings
from bcapp.web import routes
from tests.test_metrics import TOKEN, sample

PING = Callback("ping", "POST", counts_address_first=True)


@pytest.fixture
def declared_ping() -> Iterator[Callback]:
    endpoints.declare(PING)

    @routes.callback("ping")
    def ping() -> str:
        return "pong"

    yield PING
    endpoints.withdraw("ping")
    routes.forget_view("ping")


def metrics_of(app: Flask) -> str:
    page = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    return page.get_data(as_text=True)


def test_a_callback_declared_once_is_routed_guarded_limited_and_measured(
    make_app: Callable[..., Flask], declared_ping: Callback
) -> None:
    app = make_app(metrics_token=TOKEN, rate_limit_per_address=2)
    client = app.test_client()
    before = metrics_of(app)

    wrong = client.get("/bigcommerce/ping")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert client.head("/bigcommerce/ping").status_code == 405
    assert [client.post("/bigcommerce/ping").status_code for _ in range(3)] == [200, 200, 429]

    after = metrics_of(app)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("bcapp_callbacks_total", callback="ping", outcome="ok") == 2
    assert grew("bcapp_callbacks_total", callback="ping", outcome="rate_limited_address") == 1
    assert grew("bcapp_callbacks_total", callback="ping", outcome="status_405") == 2
    timed = grew("bcapp_request_seconds_count", route="/bigcommerce/ping")
    unrouted = grew("bcapp_request_seconds_count", route="unmatched")
    assert timed == 3 and unrouted == 2, "the 429 and both 405s were timed like the answers"


def test_the_portal_urls_and_the_webhook_destination_come_from_the_table(
    settings: Settings,
) -> None:
    urls = settings.callback_urls()
    assert urls == {
        callback.portal_field: settings.app_url + callback.path
        for callback in endpoints.declared()
        if callback.portal_field
    }
    assert len(urls) == 4
    assert settings.webhook_destination == settings.app_url + "/bigcommerce/webhooks"


def test_a_callback_is_declared_once_and_a_view_needs_a_declaration() -> None:
    with pytest.raises(ValueError, match="already declared"):
        endpoints.declare(Callback("load", "GET"))
    with pytest.raises(LookupError, match="not declared"):
        routes.callback("nowhere")
