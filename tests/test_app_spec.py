"""Finding the developer's app (bcapp/app_spec.py): BCAPP_APP as an app, a factory or
gunicorn's call syntax, and a clear error for each way it can be wrong."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcapp.app_spec import app_spec, load_app
from bcapp.errors import ConfigurationError

SHOP = '''
from flask import Flask

made = []


def create_app():
    made.append(1)
    return Flask("specshop")


app = create_app()
not_an_app = 42
'''


@pytest.fixture
def specshop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A module `specshop` on the import path, as a project's app is."""
    (tmp_path / "specshop.py").write_text(SHOP)
    monkeypatch.syspath_prepend(str(tmp_path))
    import specshop

    yield specshop
    sys.modules.pop("specshop", None)


@pytest.mark.parametrize(
    ("spec", "built"), [("specshop:app", 1), ("specshop", 1), ("specshop:create_app", 2),
                        ("specshop:create_app()", 2)]
)
def test_an_app_or_its_factory_gives_a_flask_app(specshop: object, spec: str, built: int) -> None:
    found = load_app(spec)
    assert found.name == "specshop"
    assert len(specshop.made) == built  # type: ignore[attr-defined]  # a factory is called once


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("specshop:nothing", "specshop has no nothing"),
        ("specshop:not_an_app", "is neither a Flask app nor a factory"),
        ("no_such_shop_module:app", "cannot import no_such_shop_module"),
    ],
)
def test_a_wrong_app_is_named_in_the_error(specshop: object, spec: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        load_app(spec)


@pytest.mark.parametrize("value", ["shop app", "9shop:app", "shop:app(1)", "shop/app"])
def test_a_malformed_app_variable_stops_start_up(value: str) -> None:
    with pytest.raises(ConfigurationError, match="BCAPP_APP names your Flask app"):
        app_spec({"BCAPP_APP": value})
    assert app_spec({"BCAPP_APP": " "}) is None
