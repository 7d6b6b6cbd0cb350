"""The bundled example's scope, for processes that reproduce the tests' settings
(tests/servers.py::environment_for) without the example's webhook handlers and App Extension."""

from bcapp import scopes

scopes.require("store_v2_products_read_only", reason="the bundled example's products page")
