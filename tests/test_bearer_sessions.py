"""Sessions without cookies (issue 29, item 4): an app page carries a bearer token standing for
its session; `@app_api` views take it (then the cookie), `POST /bigcommerce/session-token`
renews it while the session lives; a load JWT, a forged or expired token, a removed user, an
uninstalled store or an ended session are each a 401 with the bearer challenge."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from bcapp.clock import ManualClock
from bcapp.simulator import SimulatorState
from bcapp.web.bearer import app_api
from bcapp.web.kit import AppContext
from tests.helpers import STAFF, install, signed

CHALLENGE = 'Bearer error="invalid_token"'


def api_blueprint() -> Blueprint:
    bp = Blueprint("my_api", __name__)

    @bp.route("/api/whoami", methods=["GET", "POST"])
    @app_api
    def whoami(ctx: AppContext) -> dict[str, Any]:
        return {"store": ctx.store_hash, "user": ctx.user.id}

    return bp


@pytest.fixture
def app(make_app: Callable[..., Flask], clock: ManualClock) -> Flask:
    made = make_app(clock=clock)
    made.register_blueprint(api_blueprint())
    return made


def page_token(client: FlaskClient) -> str:
    page = client.get("/").get_data(as_text=True)
    found = re.search(r'<meta name="bcapp-token" content="([^"]+)">', page)
    assert found, "the app page carries its session's bearer token"
    return found.group(1)


def call(app: Flask, token: str, method: str = "GET", path: str = "/api/whoami") -> Any:
    """A request from the page's JavaScript in a browser that keeps no cookie."""
    return app.test_client().open(path, method=method,
                                  headers={"Authorization": f"Bearer {token}"})


def assert_refused(answer: Any) -> None:
    assert answer.status_code == 401
    assert answer.json == {"error": "invalid_token"}
    assert answer.headers["WWW-Authenticate"] == CHALLENGE


def test_the_pages_token_opens_the_api_without_a_cookie(
    app: Flask, installed: FlaskClient
) -> None:
    token = page_token(installed)
    assert call(app, token).json == {"store": "abc123", "user": 1}
    assert call(app, token, "POST").status_code == 200, "a bearer needs no CSRF token"
    script = app.test_client().get("/bigcommerce/bcapp.js")
    assert script.status_code == 200 and "/bigcommerce/session-token" in script.text
    page = installed.get("/").get_data(as_text=True)
    assert re.search(r'<script nonce="[^"]+" src="/bigcommerce/bcapp.js" defer>', page)


def test_a_load_jwt_a_forged_or_an_expired_token_is_a_401(
    app: Flask, installed: FlaskClient, clock: ManualClock
) -> None:
    token = page_token(installed)
    assert_refused(call(app, signed()))  # the load's own JWT is never a bearer
    assert_refused(call(app, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")))
    assert_refused(call(app, "not-a-token"))
    assert_refused(app.test_client().get("/api/whoami"))  # nothing at all
    clock.advance(301)
    assert_refused(call(app, token))


def test_renewal_keeps_the_session_going_but_never_past_its_lifetime(
    make_app: Callable[..., Flask], sim: SimulatorState, clock: ManualClock
) -> None:
    app = make_app(clock=clock, session_lifetime_seconds=900)  # idle: an hour, as by default
    app.register_blueprint(api_blueprint())
    browser = app.test_client()
    assert install(browser, sim).status_code == 302
    token = page_token(browser)
    for _ in range(3):
        clock.advance(240)
        renewed = call(app, token, "POST", "/bigcommerce/session-token")
        assert renewed.status_code == 200 and 0 < renewed.json["expires_in"] <= 300
        token = renewed.json["token"]
        assert call(app, token).status_code == 200
    assert renewed.json["expires_in"] == 900 - 720, "never past the session's lifetime"
    clock.advance(200)  # 920 s after the load: within the idle timer, past the lifetime
    assert_refused(call(app, token, "POST", "/bigcommerce/session-token"))
    assert_refused(call(app, token))


def test_a_removed_user_an_uninstall_or_an_ended_session_ends_every_token(
    app: Flask, installed: FlaskClient, sim: SimulatorState
) -> None:
    staff = app.test_client()
    opened = staff.get(f"/bigcommerce/load?signed_payload_jwt={signed(user=STAFF)}")
    assert opened.status_code == 302
    staff_token = page_token(staff)
    removal = app.test_client().get(
        f"/bigcommerce/remove-user?signed_payload_jwt={signed(user=STAFF)}")
    assert removal.status_code == 200
    assert_refused(call(app, staff_token))

    token = page_token(installed)
    ended = call(app, token, "POST", "/bigcommerce/session-token/end")
    assert ended.status_code == 200 and ended.json == {"ended": True}
    assert_refused(call(app, token))
    assert installed.get("/").status_code == 401, "the cookie of that session ended too"

    again = app.test_client()
    assert install(again, sim).status_code == 302
    fresh = page_token(again)
    assert again.get(f"/bigcommerce/uninstall?signed_payload_jwt={signed()}").status_code == 200
    assert_refused(call(app, fresh))


def test_the_cookie_works_too_with_csrf_for_changes(app: Flask, installed: FlaskClient) -> None:
    assert installed.get("/api/whoami").json == {"store": "abc123", "user": 1}
    refused = installed.post("/api/whoami")
    assert refused.status_code == 403 and refused.json == {"error": "csrf_token"}
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      installed.get("/settings").get_data(as_text=True))
    assert token is not None
    changed = installed.post("/api/whoami", headers={"X-CSRF-Token": token.group(1)})
    assert changed.status_code == 200


@pytest.mark.parametrize(("mode", "cookie", "bearer"), [("cookie", 200, 401), ("bearer", 401, 200)])
def test_bcapp_sessions_chooses_the_credentials(
    make_app: Callable[..., Flask], sim: SimulatorState, mode: str, cookie: int, bearer: int
) -> None:
    both = make_app()
    made = make_app(sessions_mode=mode)
    made.register_blueprint(api_blueprint())
    browser = made.test_client()
    assert install(browser, sim).status_code == 302
    assert browser.get("/api/whoami").status_code == cookie
    both_browser = both.test_client()
    assert both_browser.get(f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code == 302
    token = page_token(both_browser)  # minted by a deployment of the same keys
    assert call(made, token).status_code == bearer
    meta = 'name="bcapp-token"' in browser.get("/").get_data(as_text=True)
    assert meta is (mode != "cookie")


FRAMED = {"Sec-Fetch-Dest": "iframe"}


def opened_without_cookie(app: Flask, headers: dict[str, str]) -> Any:
    """A load in a browser that keeps no cookie of the app: the redirect's page, requested
    by a fresh client (no cookie) with `headers`; (page answer, its URL)."""
    opened = app.test_client().get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    assert opened.status_code == 302
    return app.test_client().get(opened.headers["Location"], headers=headers), opened


def test_the_first_page_opens_in_the_frame_without_its_cookie_and_calls_the_api(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    """A browser that blocks the app's cookie in the control panel: the load's page renders
    there from its handoff (spent), with a bearer that opens `@app_api` and a new-tab link."""
    app = make_app(example_pages=True)
    assert install(app.test_client(), sim).status_code == 302
    page, opened = opened_without_cookie(app, FRAMED)
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers, "no cookie offered where it is blocked"
    html = page.get_data(as_text=True)
    token = re.search(r'<meta name="bcapp-token" content="([^"]+)">', html)
    assert token is not None and 'data-testid="without-cookie"' in html
    assert "<title>bcapp · abc123</title>" in html, "the card is in the page, not its title"
    assert "abc123" in html and "frame-ancestors" in page.headers["Content-Security-Policy"]
    summary = call(app, token.group(1), path="/api/summary")
    assert summary.status_code == 200
    assert summary.json == {"store_hash": "abc123", "user": "owner@example.com",
                            "products": summary.json["products"]}
    again = app.test_client().get(opened.headers["Location"], headers=FRAMED)
    assert again.status_code == 401, "the handoff was spent: a replayed link opens nothing"
    new_tab = re.search(r'href="(/bigcommerce/handoff\?token=[^"]+)"', html)
    assert new_tab is not None, "the page offers the app in a new tab"
    tab = app.test_client()
    assert tab.get(new_tab.group(1).replace("&amp;", "&"),
                   headers={"Sec-Fetch-Site": "same-origin"}).status_code == 302
    assert tab.get("/settings").status_code == 200, "first-party, every page works"


@pytest.mark.parametrize(
    ("headers", "mode"),
    [({"Sec-Fetch-Dest": "document"}, "both"), ({}, "both"), (FRAMED, "cookie")],
    ids=["top-level", "no-fetch-metadata", "cookie-mode"],
)
def test_outside_a_frame_or_in_cookie_mode_the_page_offers_a_new_tab_and_spends_nothing(
    make_app: Callable[..., Flask], sim: SimulatorState, snapshot: Callable[[], Any],
    headers: dict[str, str], mode: str,
) -> None:
    """A handoff link opened as a top-level page (login CSRF: somebody's link signing the
    visitor in to their store) or by a browser without Fetch Metadata is never spent for a
    cookie-less page; the page says the cookie was blocked and offers the one-time new tab."""
    app = make_app(sessions_mode=mode)
    assert install(app.test_client(), sim).status_code == 302
    opened = app.test_client().get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    before = snapshot()
    page = app.test_client().get(opened.headers["Location"], headers=headers)
    assert page.status_code == 401
    html = page.get_data(as_text=True)
    assert "kept the app from signing you in" in html and 'name="bcapp-token"' not in html
    assert snapshot() == before, "the handoff is still there for the new tab"
