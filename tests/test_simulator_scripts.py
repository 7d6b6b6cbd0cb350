"""The simulator's Scripts API (issue 29, Build 5), over real HTTP: BigCommerce's fields, enums
and limits (`reference/scripts.v3.yml`), 422 errors by field, scripts visible only to the client
that created them, ten per app and store, the checkout scope, paging, and `auto_uninstall`
scripts gone with the app; and the channel sites naming each storefront's URL."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import requests

from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator.storefront_model import SimScript

CONTENT = "store_v2_information_read_only store_v2_content"
SCRIPT = {
    "name": "badge", "description": "A loyalty badge", "src": "https://app.example/badge.js",
    "auto_uninstall": True, "load_method": "defer", "location": "footer",
    "visibility": "storefront", "kind": "src", "consent_category": "functional",
    "enabled": True, "channel_id": 1,
    "integrity_hashes": ["sha384-" + "A" * 64],
}
NO_SCOPE = "You don't have a required scope to access the endpoint"


def call(
    bigcommerce: ServedApp, token: str, method: str, path: str, body: Any = None
) -> requests.Response:
    return requests.request(
        method,
        f"{bigcommerce.url}/stores/abc123/{path}",
        headers={"X-Auth-Token": token, "Accept": "application/json"},
        json=body,
        timeout=5,
    )


@pytest.fixture
def token(sim: SimulatorState) -> str:
    """The app installed on abc123 with the content scope."""
    return sim.grant_token("abc123", CONTENT)


def scripts_of(sim: SimulatorState) -> list[SimScript]:
    return copy.deepcopy(sim.stores["abc123"].scripts)


def test_create_read_update_list_and_delete(
    sim: SimulatorState, bigcommerce: ServedApp, token: str
) -> None:
    made = call(bigcommerce, token, "POST", "v3/content/scripts", SCRIPT)
    assert made.status_code == 200
    data = made.json()["data"]
    assert {key: data[key] for key in SCRIPT} == SCRIPT
    assert data["api_client_id"] == sim.client_id and data["html"] == ""
    assert set(data) == set(SCRIPT) | {"uuid", "api_client_id", "date_created",
                                       "date_modified", "html"}
    uuid = data["uuid"]
    assert call(bigcommerce, token, "GET", f"v3/content/scripts/{uuid}").json()["data"] == data
    changed = call(bigcommerce, token, "PUT", f"v3/content/scripts/{uuid}",
                   {"location": "head", "consent_category": "analytics"})
    assert changed.status_code == 200
    assert changed.json()["data"]["location"] == "head"
    assert changed.json()["data"]["name"] == "badge"
    listed = call(bigcommerce, token, "GET", "v3/content/scripts").json()
    assert [one["uuid"] for one in listed["data"]] == [uuid]
    assert listed["meta"]["pagination"]["total"] == 1
    gone = call(bigcommerce, token, "DELETE", f"v3/content/scripts/{uuid}")
    assert gone.status_code == 204 and gone.content == b""
    assert call(bigcommerce, token, "GET", f"v3/content/scripts/{uuid}").status_code == 404
    assert sim.stores["abc123"].scripts == []


def test_an_inline_script_tag(sim: SimulatorState, bigcommerce: ServedApp, token: str) -> None:
    body = {"name": "inline", "kind": "script_tag", "html": "<script>var a = 1;</script>",
            "consent_category": "essential"}
    made = call(bigcommerce, token, "POST", "v3/content/scripts", body)
    assert made.status_code == 200
    data = made.json()["data"]
    assert (data["kind"], data["src"], data["load_method"]) == ("script_tag", "", "default")
    assert data["visibility"] == "storefront" and data["auto_uninstall"] is True


def test_an_omitted_consent_category_is_unknown(bigcommerce: ServedApp, token: str) -> None:
    made = call(bigcommerce, token, "POST", "v3/content/scripts",
                {"name": "x", "src": "https://app.example/x.js"})
    assert made.json()["data"]["consent_category"] == "unknown"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": None}, "name", "name is required"),
        ({"name": ""}, "name", "1 to 255"),
        ({"name": "n" * 256}, "name", "1 to 255"),
        ({"name": 5}, "name", "must be a string"),
        ({"src": "javascript:alert(1)"}, "src", "http(s) URL"),
        ({"src": None}, "src", "http(s) URL"),
        ({"html": "<script></script>"}, "html", "Do not send html"),
        ({"kind": "module"}, "kind", "src, script_tag"),
        ({"load_method": "lazy"}, "load_method", "default, async, defer"),
        ({"location": "body"}, "location", "head, footer"),
        ({"visibility": "everywhere"}, "visibility", "storefront, all_pages"),
        ({"consent_category": "unknown"}, "consent_category", "essential, functional"),
        ({"consent_category": "marketing"}, "consent_category", "essential, functional"),
        ({"enabled": "yes"}, "enabled", "boolean"),
        ({"auto_uninstall": 1}, "auto_uninstall", "boolean"),
        ({"channel_id": 7}, "channel_id", "no channel 7"),
        ({"channel_id": True}, "channel_id", "integer"),
        ({"integrity_hashes": ["sha384-" + "A" * 64] * 6}, "integrity_hashes", "At most 5"),
        ({"integrity_hashes": ["md5-abc"]}, "integrity_hashes", "sha256-"),
        ({"kind": "script_tag", "src": None, "html": "<script></script>",
          "load_method": "async"}, "load_method", "must use load_method default"),
        ({"kind": "script_tag", "src": None, "html": "var a;"}, "html", "1 to 5 <script>"),
        ({"kind": "script_tag", "src": None, "html": "<script></script>" * 6}, "html", "1 to 5"),
        ({"kind": "script_tag", "html": "<script></script>"}, "src", "Do not send src"),
    ],
)
def test_invalid_scripts_are_refused_with_422_by_field(
    sim: SimulatorState, bigcommerce: ServedApp, token: str,
    change: dict[str, Any], field: str, words: str,
) -> None:
    body = {**SCRIPT, **change}
    body = {key: value for key, value in body.items() if value is not None}
    answer = call(bigcommerce, token, "POST", "v3/content/scripts", body)
    assert answer.status_code == 422
    error = answer.json()
    assert error["status"] == 422 and error["title"] and error["type"]
    assert words in error["errors"][field]
    assert sim.stores["abc123"].scripts == []


def test_a_body_that_is_not_an_object_is_refused(
    sim: SimulatorState, bigcommerce: ServedApp, token: str
) -> None:
    answer = call(bigcommerce, token, "POST", "v3/content/scripts", [SCRIPT])
    assert answer.status_code == 422 and "JSON object" in answer.json()["errors"]["body"]
    assert sim.stores["abc123"].scripts == []


def test_an_invalid_update_changes_nothing(
    sim: SimulatorState, bigcommerce: ServedApp, token: str
) -> None:
    uuid = call(bigcommerce, token, "POST", "v3/content/scripts", SCRIPT).json()["data"]["uuid"]
    before = scripts_of(sim)
    answer = call(bigcommerce, token, "PUT", f"v3/content/scripts/{uuid}", {"location": "side"})
    assert answer.status_code == 422 and "location" in answer.json()["errors"]
    assert scripts_of(sim) == before


def test_ten_scripts_per_app_and_store(
    sim: SimulatorState, bigcommerce: ServedApp, token: str
) -> None:
    sim.stores["abc123"].channels = [1, 2]
    for n in range(10):
        body = {**SCRIPT, "name": f"s{n}", "channel_id": 1 + n % 2}
        assert call(bigcommerce, token, "POST", "v3/content/scripts", body).status_code == 200
    before = scripts_of(sim)
    eleventh = call(bigcommerce, token, "POST", "v3/content/scripts", {**SCRIPT, "name": "s10"})
    assert eleventh.status_code == 422
    assert "limit of 10 scripts" in eleventh.json()["title"]
    assert scripts_of(sim) == before
    account = sim.create_api_account("abc123", "other", "store_v2_content")
    other = call(bigcommerce, account.access_token, "POST", "v3/content/scripts", SCRIPT)
    assert other.status_code == 200, "the limit is per API client"


def test_scripts_are_visible_only_to_the_client_that_created_them(
    sim: SimulatorState, bigcommerce: ServedApp, token: str
) -> None:
    mine = call(bigcommerce, token, "POST", "v3/content/scripts", SCRIPT).json()["data"]["uuid"]
    account = sim.create_api_account("abc123", "other", "store_v2_content")
    theirs = account.access_token
    assert call(bigcommerce, theirs, "GET", "v3/content/scripts").json()["data"] == []
    for method, body in (("GET", None), ("PUT", {"name": "taken"}), ("DELETE", None)):
        answer = call(bigcommerce, theirs, method, f"v3/content/scripts/{mine}", body)
        assert answer.status_code == 404
        assert answer.json()["title"] == "The requested resource was not found."
    assert [one.name for one in sim.stores["abc123"].scripts] == ["badge"]
    again = sim.grant_token("abc123", CONTENT)  # re-authorised: the same client, a new token
    listed = call(bigcommerce, again, "GET", "v3/content/scripts").json()["data"]
    assert [one["uuid"] for one in listed] == [mine]


@pytest.mark.parametrize(
    ("granted", "method", "status"),
    [
        ("store_v2_information_read_only", "GET", 403),
        ("store_v2_information_read_only", "POST", 403),
        ("store_v2_content_read_only", "GET", 200),
        ("store_v2_content_read_only", "POST", 403),
        ("store_v2_content", "POST", 200),
    ],
)
def test_the_content_scope(
    sim: SimulatorState, bigcommerce: ServedApp, granted: str, method: str, status: int
) -> None:
    token = sim.grant_token("abc123", granted)
    answer = call(bigcommerce, token, method, "v3/content/scripts",
                  SCRIPT if method == "POST" else None)
    assert answer.status_code == status
    if status == 403:
        assert answer.json()["title"] == NO_SCOPE
        assert sim.stores["abc123"].scripts == []


@pytest.mark.parametrize("visibility", ["checkout", "all_pages"])
def test_checkout_scripts_need_the_checkout_content_scope(
    sim: SimulatorState, bigcommerce: ServedApp, token: str, visibility: str
) -> None:
    body = {**SCRIPT, "visibility": visibility}
    refused = call(bigcommerce, token, "POST", "v3/content/scripts", body)
    assert refused.status_code == 403 and refused.json()["title"] == NO_SCOPE
    assert sim.stores["abc123"].scripts == []
    plain = call(bigcommerce, token, "POST", "v3/content/scripts", SCRIPT).json()["data"]["uuid"]
    moved = call(bigcommerce, token, "PUT", f"v3/content/scripts/{plain}",
                 {"visibility": visibility})
    assert moved.status_code == 403
    assert sim.stores["abc123"].scripts[0].visibility == "storefront"
    both = sim.grant_token("abc123", CONTENT + " store_content_checkout")
    made = call(bigcommerce, both, "POST", "v3/content/scripts", body)
    assert made.status_code == 200
    checkout_uuid = made.json()["data"]["uuid"]
    narrow = sim.grant_token("abc123", CONTENT)
    listed = call(bigcommerce, narrow, "GET", "v3/content/scripts").json()["data"]
    assert [one["uuid"] for one in listed] == [plain], "a checkout script needs the scope"
    hidden = call(bigcommerce, narrow, "GET", f"v3/content/scripts/{checkout_uuid}")
    assert hidden.status_code == 403


def test_paging_sorting_and_the_channel_filter(
    sim: SimulatorState, bigcommerce: ServedApp, token: str
) -> None:
    sim.stores["abc123"].channels = [1, 2]
    for name, channel in (("c", 1), ("a", 2), ("b", 1)):
        body = {**SCRIPT, "name": name, "channel_id": channel}
        assert call(bigcommerce, token, "POST", "v3/content/scripts", body).status_code == 200
    first = call(bigcommerce, token, "GET", "v3/content/scripts?sort=name&limit=2").json()
    assert [one["name"] for one in first["data"]] == ["a", "b"]
    assert first["meta"]["pagination"] == {
        "total": 3, "count": 2, "per_page": 2, "current_page": 1, "total_pages": 2,
        "links": {"current": "?page=1&limit=2", "next": "?page=2&limit=2"},
    }
    second = call(bigcommerce, token, "GET", "v3/content/scripts?sort=name&limit=2&page=2")
    assert [one["name"] for one in second.json()["data"]] == ["c"]
    down = call(bigcommerce, token, "GET", "v3/content/scripts?sort=name&direction=desc").json()
    assert [one["name"] for one in down["data"]] == ["c", "b", "a"]
    ones = call(bigcommerce, token, "GET", "v3/content/scripts?channel_id:in=1").json()
    assert sorted(one["name"] for one in ones["data"]) == ["b", "c"]
    bad = call(bigcommerce, token, "GET", "v3/content/scripts?sort=uuid")
    assert bad.status_code == 422


def test_uninstall_deletes_the_apps_auto_uninstall_scripts(
    sim: SimulatorState, bigcommerce: ServedApp, token: str
) -> None:
    call(bigcommerce, token, "POST", "v3/content/scripts", SCRIPT)
    call(bigcommerce, token, "POST", "v3/content/scripts",
         {**SCRIPT, "name": "kept", "auto_uninstall": False})
    account = sim.create_api_account("abc123", "other", "store_v2_content")
    call(bigcommerce, account.access_token, "POST", "v3/content/scripts", SCRIPT)
    sim.revoke("abc123")
    left = sorted((one.name, one.api_client_id == sim.client_id)
                  for one in sim.stores["abc123"].scripts)
    assert left == [("badge", False), ("kept", True)]


def test_channel_sites_name_the_storefront(sim: SimulatorState, bigcommerce: ServedApp) -> None:
    token = sim.grant_token("abc123", "store_v2_information_read_only store_sites_read_only")
    sim.stores["abc123"].channels = [1, 2]
    store = call(bigcommerce, token, "GET", "v2/store").json()
    assert store["secure_url"] == f"{bigcommerce.url}/storefront/abc123"
    assert store["domain"] == "abc123.mybigcommerce.example"
    site = call(bigcommerce, token, "GET", "v3/channels/2/site").json()["data"]
    assert site["url"] == f"{bigcommerce.url}/storefront/abc123/channels/2"
    assert site["channel_id"] == 2
    assert {url["type"] for url in site["urls"]} == {"primary", "canonical", "checkout"}
    listed = call(bigcommerce, token, "GET", "v3/sites").json()["data"]
    assert [one["url"] for one in listed] == [store["secure_url"], site["url"]]
    assert call(bigcommerce, token, "GET", "v3/channels/9/site").status_code == 404
    narrow = sim.grant_token("abc123", "store_v2_information_read_only")
    refused = call(bigcommerce, narrow, "GET", "v3/sites")
    assert refused.status_code == 403 and refused.json()["title"] == NO_SCOPE


def test_every_scripts_and_sites_endpoint_names_its_scope() -> None:
    """An endpoint missing from the simulator's scope table would be refused to every app."""
    from bcapp.simulator import create_simulator
    from bcapp.simulator.scopes import needed

    rules = [rule for rule in create_simulator(SimulatorState("c", "s")).url_map.iter_rules()
             if rule.endpoint.startswith("sim_scripts.")]
    assert len(rules) == 5
    for rule in rules:
        path = re.sub(r"<[^>]+>", "1", rule.rule).split("/", 3)[-1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert needed(path, method) is not None


def test_scripts_customers_and_channels_survive_a_restart(
    sim: SimulatorState, bigcommerce: ServedApp, token: str, tmp_path: Any
) -> None:
    from bcapp.simulator import persistence

    sim.stores["abc123"].channels = [1, 2]
    call(bigcommerce, token, "POST", "v3/content/scripts", SCRIPT)
    persistence.save(sim, tmp_path / "world.json")
    again = SimulatorState(client_id=sim.client_id, client_secret=sim.client_secret)
    assert persistence.load(again, tmp_path / "world.json")
    kept = again.stores["abc123"]
    assert kept.scripts == sim.stores["abc123"].scripts and kept.channels == [1, 2]
    assert kept.customers == sim.stores["abc123"].customers and len(kept.customers) == 3
