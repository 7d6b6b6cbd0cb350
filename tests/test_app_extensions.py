"""App Extensions and the GraphQL Admin API (issue 19), against the simulator over HTTP.

Acceptance 1: an install registers exactly the declared extensions; another install and a
reconcile add nothing; a changed label is updated, a removed declaration deleted; a third
extension for one model is refused at start-up. Acceptance 3: `StoreClient.graphql` shares the
budget with REST calls, raises the typed error on a GraphQL error, never retries a mutation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bcapp import extensions
from bcapp.app_spec import load_declarations
from bcapp.broker import SYNC_STORE
from bcapp.cli import main
from bcapp.errors import ConfigurationError, GraphQLFailed, RateLimited
from bcapp.metrics import GRAPHQL_COMPLEXITY
from bcapp.service.app_extensions import CREATE, DELETE, LIST
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState, graphql_api
from bcapp.worker import application
from tests.helpers import DEFAULT_SCOPE
from tests.service.test_lifecycle import install as install_through_the_service
from tests.test_cli import cli_env
from tests.workers import running_worker, wait_until

EXTENSIONS_SCOPE = "store_app_extensions_manage"


def install(service: Bcapp, sim: SimulatorState) -> Any:
    """Install on abc123 granting what an app declaring extensions requires: bcapp's scopes and
    store_app_extensions_manage (the simulator refuses GraphQL calls without it, as BigCommerce
    does)."""
    return install_through_the_service(service, sim, scope=f"{DEFAULT_SCOPE} {EXTENSIONS_SCOPE}")


def registered(sim: SimulatorState) -> list[tuple[str, str, str, str]]:
    store = sim.stores["abc123"]
    return sorted(
        (ext["model"], ext["context"], ext["url"], ext["label"]["defaultValue"])
        for ext in store.app_extensions
        if ext["token"] == store.access_token
    )


def test_each_store_gets_exactly_the_declared_extensions(
    service: Bcapp, sim: SimulatorState
) -> None:
    extensions.add(
        model="ORDERS",
        context="PANEL",
        url="/orders/${id}",
        label="Print labels",
        locales={"fr-FR": "Imprimer"},
    )
    extensions.add(model="PRODUCTS", context="LINK", url="/products/${id}", label="Colours")
    install(service, sim)
    with running_worker(service):
        wait_until(lambda: len(registered(sim)) == 2, what="the post-install task")
    assert registered(sim) == [
        ("ORDERS", "PANEL", "/orders/${id}", "Print labels"),
        ("PRODUCTS", "LINK", "/products/${id}", "Colours"),
    ]
    [orders] = [ext for ext in sim.stores["abc123"].app_extensions if ext["model"] == "ORDERS"]
    assert orders["label"]["locales"] == [{"value": "Imprimer", "localeCode": "fr-FR"}]

    assert service.operations.reconcile(only="abc123").hooks == [], "a reconcile adds nothing"
    assert len(sim.stores["abc123"].app_extensions) == 2

    extensions._declared[:] = [
        extensions.Extension(
            "ORDERS", "PANEL", "/orders/${id}", "Print shipping labels", (("fr-FR", "Imprimer"),)
        ),
    ]  # the label changed; the product action is no longer declared
    report = service.operations.reconcile(only="abc123")
    assert report.hooks == [
        "store abc123: App Extensions updated ORDERS /orders/${id}; "
        "deleted PRODUCTS /products/${id}"
    ]
    assert registered(sim) == [("ORDERS", "PANEL", "/orders/${id}", "Print shipping labels")]
    assert orders["id"] == sim.stores["abc123"].app_extensions[0]["id"], "updated in place"


def test_a_reinstall_registers_the_set_once_for_its_new_token(
    service: Bcapp, sim: SimulatorState
) -> None:
    extensions.add(model="CUSTOMERS", context="PANEL", url="/customers/${id}", label="Notes")
    with running_worker(service):
        install(service, sim)
        wait_until(lambda: len(registered(sim)) == 1, what="the first install's task")
        install(service, sim)  # a new token: BigCommerce shows it none of the old token's
        wait_until(lambda: len(sim.stores["abc123"].app_extensions) == 2, what="the re-install")
    assert registered(sim) == [("CUSTOMERS", "PANEL", "/customers/${id}", "Notes")]


@pytest.mark.parametrize(
    ("declaration", "problem"),
    [
        ({"model": "ORDERS", "url": "/third/${id}"}, "at most 2 extensions per model"),
        ({"model": "INVOICES"}, "the model is one of"),
        ({"context": "POPUP"}, "the context is one of"),
        ({"url": "https://elsewhere.example/x"}, "a path of the app"),
        ({"url": "//elsewhere.example/x"}, "a path of the app"),
        ({"url": "/" + "a" * 255}, "at most 255 characters"),
        ({"label": "L" * 256}, "at most 255 characters"),
        ({"label": "  "}, "cannot be empty"),
    ],
)
def test_a_declaration_bigcommerce_would_refuse_stops_start_up(
    declaration: dict[str, str], problem: str
) -> None:
    extensions.add(model="ORDERS", context="PANEL", url="/one/${id}", label="One")
    extensions.add(model="ORDERS", context="LINK", url="/two/${id}", label="Two")
    arguments = {"model": "CUSTOMERS", "context": "PANEL", "url": "/c/${id}", "label": "C"}
    with pytest.raises(ConfigurationError, match=problem) as refused:
        extensions.add(**(arguments | declaration))
    assert "extensions.add(model=" in str(refused.value), "the message names the declaration"
    assert len(extensions.declared()) == 2


def test_declaring_an_extension_adds_its_scope_to_bcapp_scopes_and_the_install_check(
    tmp_path: Path, settings: Settings, sim: SimulatorState, make_service: Any
) -> None:
    module = tmp_path / "my_extensions.py"
    module.write_text(
        "from bcapp import extensions\n"
        "extensions.add(model='ORDERS', context='PANEL', url='/orders/${id}', label='Labels')\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        env = {"BCAPP_RECEIVERS": "my_extensions"}
        printed = CliRunner().invoke(main, ["scopes"], env=env)
        assert printed.exit_code == 0 and EXTENSIONS_SCOPE in printed.output.split()
        built = load_declarations(
            Settings.from_env(env | {"BCAPP_INSTANCE_DIR": str(tmp_path / "i")})
        )
        assert EXTENSIONS_SCOPE in built.required_scopes.names
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_extensions", None)


def test_an_extension_whose_context_changed_is_replaced(
    service: Bcapp, sim: SimulatorState
) -> None:
    extensions.add(model="ORDERS", context="PANEL", url="/orders/${id}", label="Labels")
    install(service, sim)
    store = sim.stores["abc123"]
    store.app_extensions.append(
        {
            "id": "bc/store/appExtension/901",
            "token": store.access_token,
            "context": "LINK",  # immutable on BigCommerce: only url and label change
            "model": "ORDERS",
            "url": "/orders/${id}",
            "label": {"defaultValue": "Labels", "locales": []},
        }
    )
    sim.extension_counter = 901
    changes = service.stores.sync("abc123").extensions
    assert changes is not None and changes.summary() == (
        "created ORDERS /orders/${id}; deleted ORDERS /orders/${id}"
    )
    assert registered(sim) == [("ORDERS", "PANEL", "/orders/${id}", "Labels")]


def test_a_failed_sync_never_blocks_the_install_and_shows_in_stores_show(
    service: Bcapp, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    extensions.add(model="ORDERS", context="PANEL", url="/orders/${id}", label="Labels")
    calls: list[str] = []

    def overload_the_create(path: str) -> None:
        calls.append(path)
        if calls.count("graphql") == 2:  # the createAppExtension mutation meets a 429
            sim.platform_429s = 1

    sim.on_api_request = overload_the_create
    with running_worker(service):
        opened = install(service, sim)  # the install itself succeeds
        wait_until(lambda: calls.count("graphql") == 2, what="the post-install task")
        wait_until(lambda: service.operations.extensions_failure("abc123"), what="its failure")
    assert opened.url == "/?installed=1" and registered(sim) == []
    env = cli_env(settings, tmp_path)
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=env)
    assert "App Extensions: the last sync failed" in shown.output, shown.output
    assert "bcapp reconcile tries again" in shown.output

    sim.on_api_request = None
    report = service.operations.reconcile(only="abc123")
    assert report.hooks == ["store abc123: App Extensions created ORDERS /orders/${id}"]
    assert service.operations.extensions_failure("abc123") is None
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=env)
    assert "App Extensions" not in shown.output


def test_graphql_shares_the_store_budget_with_rest_calls(
    service: Bcapp, sim: SimulatorState
) -> None:
    install(service, sim)
    api = service.stores.client("abc123")
    quota = sim.stores["abc123"].requests_left
    api.get("v2/store")
    api.graphql(LIST)
    assert sim.stores["abc123"].requests_left == quota - 2, "BigCommerce counted both"
    budget = service._redis.get(f"{service.settings.redis_prefix}:{{abc123}}:budget")
    assert budget is not None and int(budget) == quota - 2, "and so did bcapp's shared budget"


def test_graphql_errors_raise_the_typed_error_and_record_the_complexity(
    service: Bcapp, sim: SimulatorState
) -> None:
    install(service, sim)
    api = service.stores.client("abc123")
    before = GRAPHQL_COMPLEXITY._sum.get()  # type: ignore[attr-defined]
    with pytest.raises(GraphQLFailed) as refused:
        api.graphql(DELETE, {"input": {"id": "bc/store/appExtension/404"}})
    assert "bc/store/appExtension/404 was not found" in str(refused.value)
    assert sim.stores["abc123"].access_token not in str(refused.value)
    assert GRAPHQL_COMPLEXITY._sum.get() > before  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="does not parse"):
        api.graphql("query { store {")


def test_a_mutation_is_never_sent_twice_and_a_query_is_retried(
    service: Bcapp, sim: SimulatorState
) -> None:
    install(service, sim)
    api = service.stores.client("abc123")
    seen: list[str] = []
    sim.on_api_request = seen.append
    sim.platform_429s = 1  # the next call meets platform load
    create = {
        "input": {
            "context": "PANEL",
            "model": "ORDERS",
            "url": "/o/${id}",
            "label": {"defaultValue": "O"},
        }
    }
    with pytest.raises(RateLimited):
        api.graphql(CREATE, create)
    assert seen == ["graphql"], "the mutation was sent once"
    sim.platform_429s = 1
    assert api.graphql(LIST) == {"store": {"appExtensions": {"edges": []}}}
    assert seen == ["graphql", "graphql", "graphql"], "the query was sent again"


def test_a_graphql_answer_without_a_store_is_a_failed_sync_with_its_reason(
    service: Bcapp, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    """Fourth review: `{"data": {"store": null}}` made `sync_store` raise (an AttributeError
    and a traceback, no failure shown anywhere). It is now a failed App Extensions sync whose
    reason `bcapp stores show` prints, as any other GraphQL failure; webhooks still sync."""
    extensions.add(model="ORDERS", context="PANEL", url="/orders/${id}", label="Labels")
    install(service, sim)
    token = sim.stores["abc123"].access_token or ""
    graphql_api.STORE_IS_NULL_FOR.add(token)
    try:
        ran = application(service).tasks[SYNC_STORE].apply(kwargs={"store_hash": "abc123"})
    finally:
        graphql_api.STORE_IS_NULL_FOR.discard(token)
    assert ran.successful(), ran.traceback
    assert str(ran.result).endswith("; App Extensions failed (see bcapp stores show)")
    assert registered(sim) == [], "nothing created on an answer that names no store"
    failure = service.operations.extensions_failure("abc123")
    assert failure == "GraphQL error: the answer names no store (data.store is null)"
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=cli_env(settings, tmp_path))
    assert "App Extensions: the last sync failed" in shown.output, shown.output
    assert "data.store is null" in shown.output
