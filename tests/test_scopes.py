"""Scope parsing and coverage rules."""

from __future__ import annotations

import pytest

from bcapp import extensions, scopes
from bcapp.errors import ConfigurationError
from bcapp.scopes import CATALOGUE, ScopeSet, required_scopes


def test_parse_accepts_spaces_commas_and_plus_decoded_spaces() -> None:
    assert ScopeSet.parse("a_b c_d,e_f").names == {"a_b", "c_d", "e_f"}


@pytest.mark.parametrize("text", ["<script>", "store_v2_orders;drop", "x" * 65, "a " * 101])
def test_parse_refuses_junk(text: str) -> None:
    with pytest.raises(ValueError):
        ScopeSet.parse(text)


def test_modify_covers_read_only_but_not_the_reverse() -> None:
    modify = ScopeSet.parse("store_v2_products")
    read_only = ScopeSet.parse("store_v2_products_read_only")
    assert modify.covers(read_only)
    assert not read_only.covers(modify)
    assert read_only.missing(modify).names == {"store_v2_products"}


def test_missing_lists_only_what_is_not_granted() -> None:
    granted = ScopeSet.parse("store_v2_orders store_v2_information_read_only")
    required = ScopeSet.parse("store_v2_orders_read_only store_v2_information_read_only store_cart")
    assert granted.missing(required).names == {"store_cart"}


def test_bcapp_alone_requires_only_the_store_information() -> None:
    assert list(required_scopes()) == ["store_v2_information_read_only"]


def test_a_declared_scope_is_required_with_its_reason() -> None:
    scopes.require("store_v2_orders_read_only", reason="  the orders\n summary page ")
    assert list(required_scopes()) == [
        "store_v2_information_read_only",
        "store_v2_orders_read_only",
    ]
    assert scopes.Requirement("store_v2_orders_read_only", "the orders summary page") in (
        scopes.requirements()
    )


def test_declaring_an_app_extension_implies_its_scope() -> None:
    extensions.add(model="ORDERS", context="PANEL", url="/orders/${id}", label="Open")
    assert extensions.SCOPE in required_scopes().names
    [implied] = [found for found in scopes.requirements() if found.name == extensions.SCOPE]
    assert "App Extensions" in implied.reason


@pytest.mark.parametrize("name", ["store_v2_prodcts", "default", "", "bad-name!"])
def test_an_unknown_or_platform_scope_stops_start_up_naming_it(name: str) -> None:
    with pytest.raises(ConfigurationError, match="not a BigCommerce OAuth scope"):
        scopes.require(name, reason="because")
    assert list(required_scopes()) == ["store_v2_information_read_only"]


def test_a_scope_without_a_reason_stops_start_up() -> None:
    with pytest.raises(ConfigurationError, match="give the reason"):
        scopes.require("store_v2_orders", reason=" ")
    assert "store_v2_orders" not in required_scopes().names


def test_catalogue_holds_documented_names() -> None:
    for name in ("store_v2_orders", "store_payments_methods_read", "store_themes_read_only"):
        assert name in CATALOGUE
