"""Issue 27, Build 7: `init_app` is a guest in the developer's Flask app.

A host app with its own SECRET_KEY, `flask.session`, error handlers and templates keeps all of
them after `init_app`; bcapp's session lives in a cookie of its own, bcapp's error pages answer
for bcapp's routes and `app_page` views only, bcapp's templates are under `bcapp/`; the
services are `bcapp.current()` in a request, and `Bcapp` is the type of what bcapp returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, render_template, session
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from werkzeug.exceptions import Forbidden, NotFound

import bcapp
from bcapp import AppContext, Bcapp, app_page
from bcapp.errors import NotInstalled
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.web.sessions import cookie_of
from tests.helpers import install

HOST_KEY = "the-host-apps-own-secret-key-" + "h" * 20
BCAPP_PAGE = 'data-testid="request-id"'  # only bcapp's error page shows the request id
BCAPP_FRAME = '<span class="logo">b</span>'  # bcapp's page frame (templates/bcapp/base.html)
HostFactory = Callable[..., Flask]


@pytest.fixture
def make_host(settings: Settings, tmp_path: Path) -> Iterator[HostFactory]:
    """A factory of host apps: the developer's own Flask app, with its own SECRET_KEY, session
    values, templates (base.html, errors/404.html) and, unless `handlers=False`, error handlers
    for 404 and for any exception, registered before `init_app`; bcapp's services are closed
    after the test."""
    templates = tmp_path / "host_templates"
    (templates / "errors").mkdir(parents=True)
    (templates / "base.html").write_text(
        "<html><body>HOST FRAME {% block content %}{% endblock %}</body></html>"
    )
    (templates / "errors" / "404.html").write_text(
        '{% extends "base.html" %}{% block content %}host 404 page{% endblock %}'
    )
    (templates / "cart.html").write_text(
        '{% extends "base.html" %}{% block content %}cart: {{ cart }}{% endblock %}'
    )
    made: list[Bcapp] = []

    def make(*, handlers: bool = True, secret_key: str = HOST_KEY, **config: object) -> Flask:
        host = Flask("host_app", template_folder=str(templates))
        host.config.update(SECRET_KEY=secret_key, **config)
        add_host_routes(host)
        if handlers:

            @host.errorhandler(404)
            def host_not_found(error: Exception) -> tuple[str, int]:
                return render_template("errors/404.html"), 404

            @host.errorhandler(Exception)
            def host_oops(error: Exception) -> tuple[str, int]:
                return f"host oops: {type(error).__name__}", 500

        made.append(bcapp.init_app(host, settings, example_pages=True))
        return host

    yield make
    for service in made:
        service.close()


def add_host_routes(host: Flask) -> None:
    """The host's own views (session, templates, failures) and one `app_page` of its own."""

    @host.get("/cart/add")
    def add_to_cart() -> str:
        session["cart"] = ["apple"]
        return "added"

    @host.get("/cart")
    def cart() -> str:
        return render_template("cart.html", cart=session.get("cart"))

    @host.get("/missing")
    def missing() -> str:
        raise NotFound()

    @host.get("/forbidden")
    def forbidden() -> str:
        raise Forbidden()

    @host.get("/fail")
    def fail() -> str:
        raise RuntimeError("the host's bug")

    @host.get("/bcapp-error")
    def bcapp_error_outside_an_app_page() -> str:
        raise NotInstalled("not_installed")

    @host.get("/services")
    def services() -> str:
        return "same" if bcapp.current() is host.extensions["bcapp"] else "other"

    @host.get("/orders/summary")
    @app_page
    def orders_summary(ctx: AppContext) -> str:
        return f"summary of {ctx.store_hash}"

    @host.get("/orders/missing")
    @app_page
    def orders_missing(ctx: AppContext) -> str:
        raise Forbidden()

    @host.get("/orders/fail")
    @app_page
    def orders_fail(ctx: AppContext) -> str:
        raise RuntimeError("a bug in the host's app page")


def signed_in(host: Flask, sim: SimulatorState) -> FlaskClient:
    client = host.test_client()
    assert install(client, sim).status_code == 302
    return client


# 1. SECRET_KEY and the session stay the host's


def test_the_hosts_secret_key_and_session_interface_stay_its_own(make_host: HostFactory) -> None:
    host = make_host()
    assert host.secret_key == HOST_KEY
    assert type(host.session_interface) is SecureCookieSessionInterface, "Flask's own"
    assert host.config["SESSION_COOKIE_NAME"] == "session"
    assert host.config["SESSION_COOKIE_SAMESITE"] is None
    assert not host.config["SESSION_COOKIE_PARTITIONED"]
    assert not host.config["SECRET_KEY_FALLBACKS"]


def test_the_hosts_session_and_bcapps_live_side_by_side(
    make_host: HostFactory, sim: SimulatorState, settings: Settings
) -> None:
    host = make_host()
    client = host.test_client()
    added = client.get("/cart/add")
    assert added.headers.getlist("Set-Cookie")[0].startswith("session="), "only the host's"
    assert len(added.headers.getlist("Set-Cookie")) == 1
    host_cookie = client.get_cookie("session")
    assert host_cookie is not None
    signer = SecureCookieSessionInterface().get_signing_serializer(host)
    assert signer is not None and signer.loads(host_cookie.value) == {"cart": ["apple"]}

    installed = install(client, sim)
    assert installed.status_code == 302
    set_cookies = installed.headers.getlist("Set-Cookie")
    assert len(set_cookies) == 1 and set_cookies[0].startswith("bcapp_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert flag in set_cookies[0]
    assert client.get("/orders/summary").get_data(as_text=True) == "summary of abc123"
    assert "cart: [&#39;apple&#39;]" in client.get("/cart").get_data(as_text=True)
    assert client.get_cookie("session").value == host_cookie.value, "the host's untouched"

    bcapp_cookie = client.get_cookie("bcapp_session")
    assert bcapp_cookie is not None
    assert signer.loads(host_cookie.value) == {"cart": ["apple"]}
    with pytest.raises(Exception, match="Signature"):
        signer.loads(bcapp_cookie.value)  # neither key nor salt is the host's
    ours = cookie_of(host).get_signing_serializer(host).loads(bcapp_cookie.value)
    assert ours["store"] == "abc123" and "cart" not in ours


def test_a_hosts_session_cookie_signed_with_bcapps_own_key_is_never_bcapps_session(
    make_host: HostFactory, sim: SimulatorState, settings: Settings
) -> None:
    """A host that reads the same SECRET_KEY variable signs its session with bcapp's key: one
    of its cookies, holding exactly the values of a live bcapp session, still opens nothing."""
    host = make_host(secret_key=settings.secret_key)
    client = signed_in(host, sim)
    bcapp_cookie = client.get_cookie("bcapp_session")
    assert bcapp_cookie is not None
    assert client.get("/orders/summary").status_code == 200
    values = cookie_of(host).get_signing_serializer(host).loads(bcapp_cookie.value)
    hosts_own = SecureCookieSessionInterface().get_signing_serializer(host)
    assert hosts_own is not None
    forged = hosts_own.dumps(values)  # what the host's session would hold, signed the host's way

    other = host.test_client()
    other.set_cookie("bcapp_session", forged)
    refused = other.get("/orders/summary")
    assert refused.status_code == 401 and BCAPP_PAGE in refused.get_data(as_text=True)
    assert "Set-Cookie" not in refused.headers, "nothing adopted"


# 2. Error handlers: bcapp's pages for bcapp's requests, the host's for the host's


def test_the_hosts_routes_keep_the_hosts_error_handlers(make_host: HostFactory) -> None:
    client = make_host().test_client()
    for path in ("/missing", "/no-such-page"):
        page = client.get(path)
        assert page.status_code == 404
        assert "HOST FRAME host 404 page" in page.get_data(as_text=True)
    failed = client.get("/fail")
    assert (failed.status_code, failed.get_data(as_text=True)) == (500, "host oops: RuntimeError")
    forbidden = client.get("/forbidden")  # no 403 handler: Flask picks the host's Exception one
    assert forbidden.get_data(as_text=True) == "host oops: Forbidden"
    assert client.get("/bcapp-error").get_data(as_text=True) == "host oops: NotInstalled"


def test_a_host_without_handlers_keeps_flasks_default_pages(make_host: HostFactory) -> None:
    client = make_host(handlers=False).test_client()
    for path in ("/missing", "/no-such-page"):
        page = client.get(path)
        assert page.status_code == 404
        assert "<h1>Not Found</h1>" in page.get_data(as_text=True)
        assert BCAPP_PAGE not in page.get_data(as_text=True)
    forbidden = client.get("/forbidden")
    assert forbidden.status_code == 403 and "<h1>Forbidden</h1>" in forbidden.get_data(True)
    failed = client.get("/fail")
    assert failed.status_code == 500 and "<h1>Internal Server Error</h1>" in failed.get_data(True)
    assert client.get("/bcapp-error").status_code == 500


def test_a_testing_host_without_handlers_sees_its_own_exceptions(make_host: HostFactory) -> None:
    """Flask's default under TESTING: the exception reaches the test, as without bcapp."""
    client = make_host(handlers=False, TESTING=True).test_client()
    with pytest.raises(RuntimeError, match="the host's bug"):
        client.get("/fail")


def test_bcapps_routes_and_app_pages_keep_bcapps_pages_whatever_the_host_registered(
    make_host: HostFactory, sim: SimulatorState
) -> None:
    host = make_host()
    client = host.test_client()
    refused = client.get("/orders/summary")  # an app_page of the host's, no session
    assert refused.status_code == 401
    assert BCAPP_PAGE in refused.get_data(as_text=True)
    assert BCAPP_FRAME in refused.get_data(as_text=True)
    assert client.get("/bigcommerce/load").status_code == 400  # a callback
    assert BCAPP_PAGE in client.get("/bigcommerce/load").get_data(as_text=True)
    wrong_method = client.post("/bigcommerce/load")  # a callback path that did not route
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "GET"
    assert BCAPP_PAGE in wrong_method.get_data(as_text=True)
    hidden = client.get("/metrics")  # bcapp's health blueprint: its 404 is bcapp's page
    assert hidden.status_code == 404 and BCAPP_PAGE in hidden.get_data(as_text=True)

    client = signed_in(host, sim)
    past_the_end = client.get("/products?page=99")  # the example's blueprint, host's 404 aside
    assert past_the_end.status_code == 404
    assert BCAPP_PAGE in past_the_end.get_data(as_text=True)
    assert "host 404" not in past_the_end.get_data(as_text=True)
    forbidden = client.get("/orders/missing")  # the host has no 403 handler of its own
    assert forbidden.status_code == 403 and BCAPP_PAGE in forbidden.get_data(as_text=True)
    failed = client.get("/orders/fail")  # the host's Exception handler was registered first
    assert failed.status_code == 500 and BCAPP_PAGE in failed.get_data(as_text=True)
    assert "a bug in the host" not in failed.get_data(as_text=True)


def test_bcapps_own_app_shows_its_pages_for_every_route(client: FlaskClient) -> None:
    """create_app owns its app: an unknown URL gets bcapp's page there."""
    page = client.get("/no-such-page")
    assert page.status_code == 404 and BCAPP_PAGE in page.get_data(as_text=True)


# 3. Templates: bcapp's under bcapp/, the host's own base.html and errors/ stay the host's


def test_the_hosts_templates_and_bcapps_do_not_meet(
    make_host: HostFactory, sim: SimulatorState
) -> None:
    client = signed_in(make_host(), sim)
    home = client.get("/").get_data(as_text=True)  # bcapp's home page
    assert BCAPP_FRAME in home and "HOST FRAME" not in home
    assert 'data-testid="store-hash">abc123' in home
    cart = client.get("/cart").get_data(as_text=True)
    assert cart.startswith("<html><body>HOST FRAME cart:") and BCAPP_FRAME not in cart
    not_found = client.get("/no-such-page").get_data(as_text=True)
    assert "HOST FRAME host 404 page" in not_found


def test_the_packaging_ships_every_template(settings: Settings) -> None:
    """Every file under templates/ is matched by pyproject.toml's package data for the package
    that directory becomes in a wheel (a template left out would be a 500 once installed)."""
    import fnmatch
    import tomllib

    from tests.servers import REPO

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"]["bcapp.templates"] == "templates"
    shipped = {
        name for name in setuptools["packages"] if name.startswith("bcapp.templates")
    }
    templates = sorted((REPO / "templates").rglob("*.html"))
    assert templates
    assert all(path.is_relative_to(REPO / "templates" / "bcapp") for path in templates)
    for path in templates:
        folder = path.parent.relative_to(REPO / "templates").parts
        package = ".".join(("bcapp", "templates", *folder))
        assert package in shipped, f"{package} is not a package of the wheel"
        patterns = setuptools["package-data"].get(package, [])
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), path


# 4. bcapp.current() and the exported type


def test_current_is_the_apps_bcapp_inside_a_request(make_host: HostFactory) -> None:
    host = make_host()
    assert host.test_client().get("/services").get_data(as_text=True) == "same"
    with host.app_context():
        assert bcapp.current() is host.extensions["bcapp"]
        assert isinstance(bcapp.current(), Bcapp)


def test_current_outside_an_app_context_or_without_init_app_says_why() -> None:
    with pytest.raises(RuntimeError, match="inside a request or an app context"):
        bcapp.current()
    with (
        Flask("never_initialised").app_context(),
        pytest.raises(RuntimeError, match=r"init_app\(app\) was not called .*never_initialised"),
    ):
        bcapp.current()


def test_init_app_and_connect_return_the_exported_type(settings: Settings) -> None:
    assert "Bcapp" in bcapp.__all__ and "current" in bcapp.__all__
    with bcapp.connect(settings) as connected:
        assert isinstance(connected, Bcapp)
    returned = bcapp.init_app(Flask("typed"), settings)
    assert isinstance(returned, Bcapp)
    returned.close()


# 5. What init_app deliberately applies to the whole app


def test_host_checks_and_security_headers_cover_the_hosts_routes_too(
    make_host: HostFactory,
) -> None:
    """docs/security.md R4, R11: a foreign Host is refused on every route, and every response
    carries the CSP; the refusal on the host's route is the host's page, not bcapp's."""
    client = make_host(handlers=False).test_client()
    assert "default-src 'self'" in client.get("/cart").headers["Content-Security-Policy"]
    foreign = client.get("/cart", headers={"Host": "evil.example"})
    assert foreign.status_code == 400 and BCAPP_PAGE not in foreign.get_data(as_text=True)
