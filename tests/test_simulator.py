"""The simulator speaks BigCommerce: token endpoint, store API with rate limits, control panel."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from bcapp.simulator import ServedApp, SimulatorState, create_simulator
from tests.conftest import APP_URL, CALLBACK_URL, CLIENT_ID, CLIENT_SECRET
from tests.helpers import DEFAULT_SCOPE, install


def token_body(sim: SimulatorState, **overrides: str) -> dict[str, str]:
    body = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": sim.issue_code("abc123", 1, DEFAULT_SCOPE),
        "scope": DEFAULT_SCOPE,
        "grant_type": "authorization_code",
        "redirect_uri": CALLBACK_URL,
        "context": "stores/abc123",
    }
    return body | overrides


def test_token_endpoint_accepts_json_and_form(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    as_json = requests.post(bigcommerce.url + "/oauth2/token", json=token_body(sim), timeout=5)
    as_form = requests.post(bigcommerce.url + "/oauth2/token", data=token_body(sim), timeout=5)
    for response in (as_json, as_form):
        assert response.status_code == 200
        body = response.json()
        assert body["context"] == "stores/abc123" and body["scope"] == DEFAULT_SCOPE
        assert body["owner"]["id"] == 1 and body["account_uuid"] == sim.account_uuid
    assert as_json.json()["access_token"] != as_form.json()["access_token"]


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"redirect_uri": "http://127.0.0.1:8000/bigcommerce/load"}, 400, "redirect_uri_mismatch"),
        ({"code": "unknown"}, 400, "invalid_grant"),
        ({"context": "stores/other1"}, 400, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_request"),
    ],
)
def test_token_endpoint_refusals(
    bigcommerce: ServedApp,
    sim: SimulatorState,
    overrides: dict[str, str],
    status: int,
    error: str,
) -> None:
    response = requests.post(
        bigcommerce.url + "/oauth2/token", data=token_body(sim, **overrides), timeout=5
    )
    assert response.status_code == status and response.json()["error"] == error


def test_codes_are_single_use(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    body = token_body(sim)
    assert requests.post(bigcommerce.url + "/oauth2/token", data=body, timeout=5).ok
    again = requests.post(bigcommerce.url + "/oauth2/token", data=body, timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_json_header_with_form_body_is_406(bigcommerce: ServedApp) -> None:
    response = requests.post(
        bigcommerce.url + "/oauth2/token",
        data="a=b",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 406 and response.json() == {"error": "Invalid format."}


def api(bigcommerce: ServedApp, path: str, token: str | None) -> requests.Response:
    return requests.get(
        f"{bigcommerce.url}/stores/abc123{path}", headers={"X-Auth-Token": token or ""}, timeout=5
    )


def test_store_api_needs_the_current_token(
    client: FlaskClient, sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    assert api(bigcommerce, "/v2/store", "nope").status_code == 401
    install(client, sim)
    first = sim.stores["abc123"].access_token
    response = api(bigcommerce, "/v2/store", first)
    assert response.status_code == 200 and response.json()["id"] == "abc123"
    assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"
    # The install itself made one call: store information (its control-panel origin); the
    # webhook subscription is a task (no worker runs here).
    assert int(response.headers["X-Rate-Limit-Requests-Left"]) == 148
    assert 0 < int(response.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 30000
    install(client, sim)
    assert api(bigcommerce, "/v2/store", first).status_code == 401, "a re-install revokes"
    sim.revoke("abc123")
    assert api(bigcommerce, "/v2/store", sim.stores["abc123"].access_token).status_code == 401


def test_store_api_rate_limit_and_paging(sim: SimulatorState, bigcommerce: ServedApp) -> None:
    sim.rate_limit_quota = 3
    token = sim.grant_token("abc123", DEFAULT_SCOPE)
    pages = [api(bigcommerce, f"/v3/catalog/products?limit=10&page={n}", token) for n in (1, 3)]
    assert [p.json()["meta"]["pagination"]["count"] for p in pages] == [10, 3]
    assert pages[0].json()["meta"]["pagination"]["total_pages"] == 3
    assert api(bigcommerce, "/v2/time", token).status_code == 200
    limited = api(bigcommerce, "/v2/store", token)
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert 1 <= int(limited.headers["X-Retry-After"]) <= 30


@pytest.fixture
def panel(sim: SimulatorState, app: Flask) -> Iterator[FlaskClient]:
    """The control panel, driving the app served over real HTTP."""
    with ServedApp(app) as served:
        sim.app_url = served.url
        yield create_simulator(sim).test_client()


def iframe_src(html: str) -> str:
    match = re.search(r'<iframe id="app"[^>]*src="([^"]+)"', html)
    assert match, html
    return match.group(1).replace("&amp;", "&")


def test_panel_lists_stores_and_users(panel: FlaskClient) -> None:
    html = panel.get("/").get_data(as_text=True)
    assert "abc123" in html and "staff@example.com" in html and "Install" in html


def test_panel_install_frames_the_auth_callback(panel: FlaskClient, sim: SimulatorState) -> None:
    src = iframe_src(panel.post("/stores/abc123/install", data={"user_id": "1"}).get_data(True))
    parts = urlsplit(src)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK_URL
    assert query["context"] == ["stores/abc123"] and query["scope"] == [sim.app_scopes]
    assert query["code"][0] in sim.codes


def test_panel_open_frames_load_or_reauthorises(
    panel: FlaskClient, sim: SimulatorState, client: FlaskClient
) -> None:
    install(client, sim)
    src = iframe_src(panel.post("/stores/abc123/open", data={"user_id": "2"}).get_data(True))
    assert src.startswith(sim.app_url + "/bigcommerce/load?signed_payload_jwt=")
    assert requests.get(src, allow_redirects=False, timeout=5).status_code == 302

    panel.post(
        "/settings", data={"app_scopes": DEFAULT_SCOPE + " store_v2_orders", "clock_skew": "0"}
    )
    src = iframe_src(panel.post("/stores/abc123/open", data={"user_id": "1"}).get_data(True))
    assert src.startswith(CALLBACK_URL + "?code="), "a scope change re-authorises"


def test_removing_a_scope_re_authorises_too(
    panel: FlaskClient, sim: SimulatorState, client: FlaskClient
) -> None:
    """Issue 20, Build 4: the knob re-authorised only when a scope was added."""
    install(client, sim)
    fewer = {"app_scopes": "store_v2_information_read_only", "clock_skew": "0"}
    panel.post("/settings", data=fewer)
    src = iframe_src(panel.post("/stores/abc123/open", data={"user_id": "1"}).get_data(True))
    assert src.startswith(CALLBACK_URL + "?code="), "any change re-authorises"


def test_the_panel_offers_every_fault_the_readme_lists(panel: FlaskClient) -> None:
    from bcapp.simulator.control_panel import TOKEN_FAULTS

    page = panel.get("/").get_data(as_text=True)
    for fault in filter(None, TOKEN_FAULTS):
        assert f'value="{fault}"' in page, fault
    for fault in filter(None, TOKEN_FAULTS):
        assert panel.post("/settings", data={"clock_skew": "0", "fault": fault}).status_code == 302


def test_panel_legacy_knob_sends_signed_payload(
    panel: FlaskClient, sim: SimulatorState, client: FlaskClient
) -> None:
    install(client, sim)
    panel.post("/settings", data={"legacy": "on", "clock_skew": "0", "app_scopes": DEFAULT_SCOPE})
    src = iframe_src(panel.post("/stores/abc123/open", data={"user_id": "1"}).get_data(True))
    assert "signed_payload=" in src and "signed_payload_jwt" not in src
    assert requests.get(src, allow_redirects=False, timeout=5).status_code == 302


def test_panel_clock_skew_knob_makes_payloads_fail(
    panel: FlaskClient, sim: SimulatorState, client: FlaskClient
) -> None:
    install(client, sim)
    panel.post("/settings", data={"clock_skew": "600", "app_scopes": DEFAULT_SCOPE})
    src = iframe_src(panel.post("/stores/abc123/open", data={"user_id": "1"}).get_data(True))
    assert requests.get(src, allow_redirects=False, timeout=5).status_code == 401


def test_panel_remove_user_and_uninstall_call_the_app(
    panel: FlaskClient, sim: SimulatorState, client: FlaskClient
) -> None:
    install(client, sim)
    assert panel.post("/stores/abc123/users/2/remove").status_code == 302
    assert 2 not in sim.stores["abc123"].users
    assert panel.post("/stores/abc123/uninstall", data={"user_id": "1"}).status_code == 302
    assert sim.stores["abc123"].access_token is None
    events = panel.get("/").get_data(as_text=True)
    assert "remove user 2 from abc123: app answered 200" in events
    assert "uninstall abc123: app answered 200" in events


def test_panel_fault_knob_breaks_the_token_endpoint(
    panel: FlaskClient, sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    panel.post("/settings", data={"fault": "500", "clock_skew": "0", "app_scopes": DEFAULT_SCOPE})
    assert sim.fault == "500"
    response = requests.post(bigcommerce.url + "/oauth2/token", data=token_body(sim), timeout=5)
    assert response.status_code == 500
    panel.post("/settings", data={"fault": "", "clock_skew": "0", "app_scopes": DEFAULT_SCOPE})
    assert sim.fault is None


def test_panel_add_user_and_store(panel: FlaskClient, sim: SimulatorState) -> None:
    panel.post("/stores/abc123/users", data={"email": "new@example.com"})
    assert sim.stores["abc123"].users[3].email == "new@example.com"
    panel.post("/stores", data={"hash": "second1"})
    assert "second1" in sim.stores


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/stores/abc123/install", {"user_id": "99"}),
        ("/stores/abc123/open", {}),
        ("/stores/abc123/users/1/remove", {}),
        ("/stores", {"hash": "BAD!"}),
        ("/stores", {"hash": "abc123"}),
        ("/settings", {"clock_skew": "soon"}),
        ("/settings", {"clock_skew": "0", "fault": "meltdown"}),
        ("/stores/nothere/install", {"user_id": "1"}),
    ],
)
def test_panel_refuses_bad_input(panel: FlaskClient, path: str, data: dict[str, str]) -> None:
    """Issue 20, Build 4: each refusal is a page in the panel's style saying what was wrong."""
    response = panel.post(path, data=data)
    assert response.status_code in (400, 404)
    page = response.get_data(as_text=True)
    assert "BigCommerce simulator" in page and "Back to the control panel" in page
    detail = re.search(r'data-testid="error-detail">([^<]+)<', page)
    assert detail is not None and "The browser (or proxy) sent a request" not in detail.group(1)


def test_panel_external_install_lands_on_the_succeeded_page(
    panel: FlaskClient, sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    html = panel.post("/stores/abc123/install", data={"user_id": "1", "external": "1"})
    src = iframe_src(html.get_data(as_text=True))
    assert "external_install=1" in src
    served_src = src.replace(APP_URL, sim.app_url)  # the panel frames the registered URL
    answer = requests.get(served_src, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    landing = requests.get(answer.headers["Location"], timeout=5)
    assert landing.status_code == 200 and "Installation succeeded" in landing.text
    assert "Stores and the app" not in landing.text and "<nav" not in landing.text, (
        "a page of its own, not the whole simulator inside the installer's frame"
    )
    assert (
        requests.get(bigcommerce.url + "/app/other/install/succeeded", timeout=5).status_code == 404
    )


def test_the_simulator_keeps_its_world_across_a_restart(
    sim: SimulatorState, tmp_path: Path
) -> None:
    """Issue 20, Build 4: after a restart of `make run`, the panel said "not installed" for
    stores the app's Redis still listed as installed. The world is now kept, token included."""
    from bcapp.simulator import persistence

    kept = tmp_path / "simulator.json"
    with ServedApp(create_simulator(sim, kept)) as served:
        exchanged = requests.post(served.url + "/oauth2/token", data=token_body(sim), timeout=5)
        assert exchanged.status_code == 200
        panel = create_simulator(sim, kept).test_client()
        panel.post("/stores", data={"hash": "second1"})
    token = sim.stores["abc123"].access_token
    assert token and kept.stat().st_mode & 0o777 == 0o600

    restarted = SimulatorState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert persistence.load(restarted, kept)
    assert set(restarted.stores) == {"abc123", "second1"}
    assert restarted.stores["abc123"].access_token == token, "still installed, same token"
    assert restarted.stores["abc123"].users.keys() == sim.stores["abc123"].users.keys()

    kept.write_text("not json")
    assert not persistence.load(restarted, kept), "an unreadable file changes nothing"
    assert set(restarted.stores) == {"abc123", "second1"}


def test_concurrent_saves_of_the_world_never_fail_nor_leave_a_partial_file(
    sim: SimulatorState, tmp_path: Path
) -> None:
    """Fourth review: every save wrote through one shared `.partial` name, so of three saves at
    once one renamed another's half-written file or found it gone (a GraphQL call failed).
    Each save now writes a temporary file of its own; readers only ever see a whole world."""
    from bcapp.simulator import persistence

    kept = tmp_path / "simulator.json"
    persistence.save(sim, kept)
    errors: list[BaseException] = []
    torn: list[str] = []
    start = threading.Barrier(6)
    saving = threading.Event()

    def save_often() -> None:
        start.wait()
        for _ in range(60):
            try:
                persistence.save(sim, kept)
            except OSError as exc:
                errors.append(exc)

    def read_often() -> None:
        start.wait()
        while saving.is_set():
            try:
                json.loads(kept.read_text())
            except ValueError:
                torn.append("a torn file")
            except OSError as exc:
                errors.append(exc)

    saving.set()
    savers = [threading.Thread(target=save_often) for _ in range(5)]
    reader = threading.Thread(target=read_often)
    for thread in [*savers, reader]:
        thread.start()
    for thread in savers:
        thread.join()
    saving.clear()
    reader.join()
    assert errors == [] and torn == []
    assert [path.name for path in tmp_path.iterdir()] == ["simulator.json"], "no partial left"
    assert kept.stat().st_mode & 0o777 == 0o600
    restarted = SimulatorState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert persistence.load(restarted, kept) and set(restarted.stores) == set(sim.stores)


def test_a_cancelled_store_is_marked_and_cannot_install_again(
    panel: FlaskClient, sim: SimulatorState
) -> None:
    """Issue 20, Build 4: a cancelled store stayed listed as installable."""
    from bcapp.simulator import driver

    sim.grant_token("abc123", DEFAULT_SCOPE)
    driver.cancel_store(sim, "abc123")
    page = panel.get("/").get_data(as_text=True)
    assert 'data-testid="cancelled"' in page
    refused = panel.post("/stores/abc123/install", data={"user_id": "1"})
    assert refused.status_code == 400 and "was cancelled" in refused.get_data(as_text=True)


def test_the_panel_lists_each_hook_once(panel: FlaskClient, sim: SimulatorState) -> None:
    """Issue 20, Build 4: a re-authorisation subscribes again (its new token sees none of the
    old hooks), and the panel listed the webhook twice."""
    from bcapp.simulator.state import SimHook

    sim.grant_token("abc123", DEFAULT_SCOPE)
    for number, token in enumerate(("old-token", "new-token"), start=1):
        hook = SimHook(number, "store/app/uninstalled", "https://app.example/hooks", True, token)
        sim.stores["abc123"].hooks.append(hook)
    page = panel.get("/").get_data(as_text=True)
    listed = re.search(r'data-testid="hooks">(.*?)</div>', page, re.S)
    assert listed is not None and listed.group(1).count("store/app/uninstalled") == 1


def test_opening_an_app_extension_the_app_did_not_register_is_a_friendly_404(
    panel: FlaskClient, sim: SimulatorState
) -> None:
    sim.grant_token("abc123", DEFAULT_SCOPE)
    refused = panel.post(
        "/stores/abc123/extensions/open",
        data={"extension": "bc/store/appExtension/9", "record": "101", "user_id": "1"},
    )
    assert refused.status_code == 404
    assert "not registered for the app" in refused.get_data(as_text=True)
