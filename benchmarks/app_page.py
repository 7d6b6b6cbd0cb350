"""The app page `/` with a session, and an install, under gunicorn against a bare Flask view.

The app page checks the session against Redis (idle timer, installation, user), asks the store
API for the store's name (the bundled page shows it) and renders the template; the stand-in
BigCommerce answers at once (benchmarks/instant_bigcommerce.py). An install exchanges a code
with the stand-in's token endpoint, reads the store's information, subscribes to uninstall
webhooks and stores the grant, a new store each time. The baseline is benchmarks/bare_app.py
served the same way (its `/` returns a small page; its load route a redirect).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlencode

from bcapp.settings import Settings
from benchmarks import instant_bigcommerce
from benchmarks.load_throughput import install_store, load_paths
from benchmarks.serving import app_environment, free_port, gunicorn, measure, redis_server

SECONDS = 5


def main() -> None:
    """Print both figures with their ratios to the bare view."""
    with redis_server() as redis_url, instant_bigcommerce.serving() as bigcommerce_url:
        port = free_port()
        env = app_environment(redis_url, port) | {
            "BC_LOGIN_URL": bigcommerce_url,
            "BC_API_URL": bigcommerce_url,
        }
        install_store(env)
        with gunicorn("benchmarks.bare_app:app", env, free_port()) as url:
            bare_page = measure(url, ["/"], SECONDS)
            bare_redirect = measure(url, ["/bigcommerce/load?signed_payload_jwt=x"], SECONDS)
        with gunicorn("wsgi:app", env, port) as url:
            cookie = session_cookie(url, load_paths(env, 1)[0])
            page = measure(url, ["/"], SECONDS, {"Cookie": cookie})
            installs = measure(url, install_paths(env, 20000), SECONDS, warm_up=2000)
    print(f"baseline bare Flask page: {bare_page:,.0f} req/s")
    print(f"app page / with a session: {page:,.0f} req/s  ratio to baseline "
          f"{page / bare_page:.2f}")
    print(f"baseline bare Flask redirect: {bare_redirect:,.0f} req/s")
    print(f"install (instant token endpoint, new store each): {installs:,.0f} req/s  "
          f"ratio to baseline {installs / bare_redirect:.2f}")


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
    scope = str(Settings.from_env(env).required_scopes)
    return [
        "/bigcommerce/auth?"
        + urlencode({"code": f"code{n}", "scope": scope, "context": f"stores/bench{n}"})
        for n in range(count)
    ]


if __name__ == "__main__":
    main()
