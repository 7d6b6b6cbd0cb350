"""App pages with a session, and an install, under gunicorn against a bare Flask view.

The app page `/` checks the session against Redis (idle timer, installation and user in one
round trip), asks the store API for the store's name (the bundled page shows it) and renders
the template; the stand-in BigCommerce answers at once (benchmarks/instant_bigcommerce.py).
The example page `/settings` is what a page of your own built with `app_page` costs without an
API call: the session check, one read of the store's settings, the template. `/hello`
(benchmarks/own_page.py, an `app_page` that only greets the user) is measured against the
minimal session-checking view of benchmarks/minimal_load.py (one pipeline, both records
parsed, the ids compared), the two served side by side and measured in turns (five paired
rounds, the ratio their median): the ratio is bcapp's per-request overhead on an app page.

An install exchanges a code with the stand-in's token endpoint, reads the store's information,
subscribes to uninstall webhooks and stores the grant, a new store each time. The baseline is
benchmarks/bare_app.py served the same way (its `/` returns a small page; its load route a
redirect).
"""

from __future__ import annotations

import contextlib
import statistics
import urllib.error
import urllib.request
from urllib.parse import urlencode

from bcapp.app_spec import load_declarations
from bcapp.settings import Settings
from benchmarks import instant_bigcommerce
from benchmarks.load_throughput import install_store, load_paths
from benchmarks.serving import (
    app_environment,
    free_port,
    gunicorn,
    measure,
    measure_alternately,
    paired_ratios,
    redis_server,
    span,
    warn_if_unsteady,
)

SECONDS = 5
HELLO_ROUNDS = 5  # /hello and the minimal view: paired rounds, the ratio their median


def main() -> None:
    """Print both figures with their ratios to the bare view."""
    with redis_server() as redis_url, instant_bigcommerce.serving() as bigcommerce_url:
        port = free_port()
        env = app_environment(redis_url, port) | {
            "BC_LOGIN_URL": bigcommerce_url,
            "BC_API_URL": bigcommerce_url,
        }
        install_store(env)
        bare_page = served("benchmarks.bare_app:app", env, ["/"])
        bare_redirect = served("benchmarks.bare_app:app", env, ["/bigcommerce/load?x=1"])
        with gunicorn("wsgi:app", env, port) as url:
            cookie = {"Cookie": session_cookie(url, load_paths(env, 1)[0])}
        with gunicorn("benchmarks.minimal_load:app", env, free_port()) as url:
            minimal_cookie = {"Cookie": session_cookie(url, load_paths(env, 1, "page-")[0])}
        page = served("wsgi:app", env, ["/"], cookie)
        own_page = served("wsgi:app", env, ["/settings"], cookie)
        with_page = env | {"BCAPP_BLUEPRINTS": "benchmarks.own_page:bp"}
        with contextlib.ExitStack() as servers:  # side by side, in turns (benchmarks/serving.py)
            pair = {
                name: (servers.enter_context(gunicorn(module, on_env, free_port())), ["/hello"])
                for name, module, on_env in (
                    ("minimal", "benchmarks.minimal_load:app", env),
                    ("bcapp", "wsgi:app", with_page),
                )
            }
            hellos = measure_alternately(
                pair, SECONDS, HELLO_ROUNDS, warm_up=0,
                headers_of={"minimal": minimal_cookie, "bcapp": cookie},
            )
        installs = served("wsgi:app", env, install_paths(env, 20000), warm_up=2000)
    print(f"baseline bare Flask page: {bare_page:,.0f} req/s")
    print(f"app page / with a session: {page:,.0f} req/s  ratio to baseline "
          f"{page / bare_page:.2f}")
    print(f"example page /settings with a session (no API call): {own_page:,.0f} req/s  "
          f"ratio to baseline {own_page / bare_page:.2f}")
    warn_if_unsteady(hellos)
    minimal_hello, hello = hellos["minimal"], hellos["bcapp"]
    of_minimal = paired_ratios(hellos, "bcapp", "minimal")
    print(f"baseline minimal session-checking view: {span(minimal_hello)} req/s  ratio to bare "
          f"{statistics.median(minimal_hello) / bare_page:.2f}")
    print(f"app_page /hello (session check, no API call): {span(hello)} req/s  ratio to bare "
          f"{statistics.median(hello) / bare_page:.2f}, to minimal "
          f"{statistics.median(of_minimal):.2f} (rounds {min(of_minimal):.2f}-"
          f"{max(of_minimal):.2f}; median of {HELLO_ROUNDS}; goal: 0.90)")
    print(f"baseline bare Flask redirect: {bare_redirect:,.0f} req/s")
    print(f"install (instant token endpoint, new store each): {installs:,.0f} req/s  "
          f"ratio to baseline {installs / bare_redirect:.2f}")


def served(
    module: str,
    env: dict[str, str],
    paths: list[str],
    headers: dict[str, str] | None = None,
    warm_up: int = 0,
) -> float:
    """The rate of `paths` on a fresh server and port, so nothing of one run (its connections,
    its workers' state) carries into the next."""
    with gunicorn(module, env, free_port()) as url:
        return measure(url, paths, SECONDS, headers, warm_up)


def session_cookie(url: str, load_path: str) -> str:
    """The session cookie a load sets (`name=value`)."""

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        urllib.request.build_opener(Keep).open(url + load_path)
    except urllib.error.HTTPError as redirect:
        cookie = redirect.headers.get("Set-Cookie", "")
        if redirect.code == 302 and cookie:
            return cookie.split(";", 1)[0]
    raise RuntimeError("the load did not set a session cookie")


def install_paths(env: dict[str, str], count: int) -> list[str]:
    """Auth-callback URLs, each for a store of its own."""
    scope = str(load_declarations(Settings.from_env(env)).required_scopes)
    return [
        "/bigcommerce/auth?"
        + urlencode({"code": f"code{n}", "scope": scope, "context": f"stores/bench{n}"})
        for n in range(count)
    ]


if __name__ == "__main__":
    main()
