"""The simulator refuses a store-API call outside the granted scopes with 403, as BigCommerce
does (issue 27, Build 8): GET needs the family's read-only scope or its modify scope, a write
needs the modify scope, webhook management needs none; the table is the simulator's own."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from bcapp.simulator import ServedApp, SimulatorState, create_simulator
from bcapp.simulator.scopes import needed
from tests.helpers import DEFAULT_SCOPE

NO_SCOPE = "You don't have a required scope to access the endpoint"
CREATE_EXTENSION = """mutation($input: CreateAppExtensionInput!) {
  appExtension { createAppExtension(input: $input) { appExtension { id } } } }"""
EXTENSION = {"context": "PANEL", "model": "ORDERS", "url": "/o", "label": {"defaultValue": "O"}}
LIST_EXTENSIONS = "{ store { appExtensions { edges { node { id } } } } }"


def call(
    bigcommerce: ServedApp, token: str, method: str, path: str, body: Any = None
) -> requests.Response:
    return requests.request(
        method,
        f"{bigcommerce.url}/stores/abc123/{path}",
        headers={"X-Auth-Token": token},
        json=body,
        timeout=5,
    )


def test_every_store_api_endpoint_is_in_the_scope_table() -> None:
    """An endpoint added to the simulator without its scope would be refused to every app."""
    rules = [
        rule
        for rule in create_simulator(SimulatorState("c", "s")).url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("sim_api", "sim_hooks", "sim_graphql", "sim_scripts")
    ]
    assert len(rules) >= 9
    for rule in rules:
        path = re.sub(r"<[^>]+>", "1", rule.rule).split("/", 3)[-1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            needed(path, method)  # KeyError: a path of no family
    with pytest.raises(KeyError):
        needed("v3/content/widgets", "GET")


@pytest.mark.parametrize(
    ("path", "method", "scope"),
    [
        ("v2/store", "GET", "store_v2_information_read_only"),
        ("v2/time", "GET", "store_v2_information_read_only"),
        ("v3/catalog/products", "GET", "store_v2_products_read_only"),
        ("v2/orders", "GET", "store_v2_orders_read_only"),
        ("v2/orders/101", "PUT", "store_v2_orders"),
        ("graphql", "POST", "store_app_extensions_manage"),
        ("v3/hooks", "POST", None),
        ("v3/hooks/admin", "GET", None),
    ],
)
def test_the_scope_each_call_needs(path: str, method: str, scope: str | None) -> None:
    assert needed(path, method) == scope


@pytest.mark.parametrize(
    ("granted", "method", "path", "body", "status"),
    [
        (DEFAULT_SCOPE, "GET", "v2/store", None, 200),
        ("store_v2_products_read_only", "GET", "v2/store", None, 403),
        ("store_v2_products_read_only", "GET", "v2/time", None, 403),
        ("store_v2_information", "GET", "v2/time", None, 200),  # modify covers read-only
        ("store_v2_information_read_only", "GET", "v3/catalog/products", None, 403),
        ("store_v2_products", "GET", "v3/catalog/products", None, 200),
        (DEFAULT_SCOPE, "GET", "v2/orders", None, 403),
        ("store_v2_orders_read_only", "GET", "v2/orders/101", None, 200),
        ("store_v2_orders", "GET", "v2/orders", None, 200),
        ("store_v2_customers", "GET", "v3/hooks", None, 200),  # webhooks: no scope needed
        (DEFAULT_SCOPE, "POST", "graphql", {"query": LIST_EXTENSIONS}, 403),
        ("store_app_extensions_manage", "POST", "graphql", {"query": LIST_EXTENSIONS}, 200),
    ],
)
def test_the_app_token_reaches_only_what_its_grant_covers(
    bigcommerce: ServedApp,
    sim: SimulatorState,
    granted: str,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    token = sim.grant_token("abc123", granted)
    quota = sim.stores["abc123"].requests_left
    answer = call(bigcommerce, token, method, path, body)
    assert answer.status_code == status, answer.text
    if status == 403:
        assert answer.json() == {"status": 403, "title": NO_SCOPE}
        assert sim.stores["abc123"].requests_left == quota, "a refusal spends no quota"


def test_a_write_needs_the_modify_scope_and_a_refused_one_changes_nothing(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    from bcapp.simulator.api import create_order

    order_id = create_order(sim, "abc123")
    reader = sim.grant_token("abc123", "store_v2_orders_read_only store_v2_information_read_only")
    refused = call(bigcommerce, reader, "PUT", f"v2/orders/{order_id}", {"staff_notes": "seen"})
    assert refused.status_code == 403 and refused.json()["title"] == NO_SCOPE
    assert sim.stores["abc123"].orders[0]["staff_notes"] == ""
    writer = sim.grant_token("abc123", "store_v2_orders")
    written = call(bigcommerce, writer, "PUT", f"v2/orders/{order_id}", {"staff_notes": "seen"})
    assert written.status_code == 200 and sim.stores["abc123"].orders[0]["staff_notes"] == "seen"


def test_an_app_extension_mutation_without_the_scope_registers_nothing(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    body = {"query": CREATE_EXTENSION, "variables": {"input": EXTENSION}}
    token = sim.grant_token("abc123", DEFAULT_SCOPE)
    refused = call(bigcommerce, token, "POST", "graphql", body)
    assert refused.status_code == 403 and sim.stores["abc123"].app_extensions == []
    token = sim.grant_token("abc123", f"{DEFAULT_SCOPE} store_app_extensions_manage")
    created = call(bigcommerce, token, "POST", "graphql", body)
    assert created.status_code == 200 and "errors" not in created.json()
    assert len(sim.stores["abc123"].app_extensions) == 1


def test_an_api_account_is_held_to_its_own_scopes_not_the_apps(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    sim.grant_token("abc123", f"{DEFAULT_SCOPE} store_v2_orders")
    account = sim.create_api_account("abc123", "Reports", "store_v2_information_read_only")
    assert call(bigcommerce, account.access_token, "GET", "v2/store").status_code == 200
    assert call(bigcommerce, account.access_token, "GET", "v2/orders").status_code == 403
