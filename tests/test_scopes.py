"""Scope parsing and coverage rules."""

from __future__ import annotations

import pytest

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


def test_default_required_scopes_are_the_minimal_pair() -> None:
    assert list(required_scopes()) == [
        "store_v2_information_read_only",
        "store_v2_products_read_only",
    ]


@pytest.mark.parametrize("declaration", ["store_v2_prodcts", "default", "", "bad-name!"])
def test_unknown_or_empty_declaration_stops_start_up(declaration: str) -> None:
    with pytest.raises(ConfigurationError):
        required_scopes(declaration)


def test_catalogue_holds_documented_names() -> None:
    for name in ("store_v2_orders", "store_payments_methods_read", "store_themes_read_only"):
        assert name in CATALOGUE
