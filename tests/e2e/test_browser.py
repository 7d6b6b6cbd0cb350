"""`make run` as a newcomer sees it: headless Chromium clicks Install and Open app.

Skipped, loudly, when no Chromium is installed (`.ci/run` installs Debian's `chromium`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from bcapp.settings import Settings
from bcapp.simulator import ServedApp, SimulatorState, create_simulator
from bcapp.web import create_app
from bcapp.web.sessions import cookie_of
from tests.conftest import service_of
from tests.servers import REPO, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="BROWSER TESTS SKIPPED: no chromium installed"),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=direct://",
    "--host-resolver-rules=MAP localhost 127.0.0.1",
]


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless. Its singleton socket lives in its TMPDIR, and a unix
    socket's path must stay short, so it gets /tmp whatever TMPDIR the tests run with."""
    environment = {**os.environ, "TMPDIR": "/tmp"}
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=FLAGS, env=environment
    )


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[str]:
    """`make run` with no configuration; yields the URL it prints."""
    port = free_port(twin=1)  # the simulator listens on PORT + 1
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BC", "REDIS_URL", "APP_URL"))
    }
    env |= {
        "PORT": str(port),
        "BCAPP_INSTANCE_DIR": str(tmp_path / "instance"),
        "WEB_CONCURRENCY": "2",
    }
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"PYTHON={sys.executable}"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so the whole make -> gunicorn -> simulator group stops
    )
    try:
        url = _printed_url(tmp_path / "run.log", process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: gunicorn stops at once
        process.wait(timeout=30)
        _wait_for_group_exit(process.pid)
        log.close()


def _wait_for_group_exit(group: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(group, signal.SIGKILL)


def _answers(url: str) -> bool:
    """True once something answers at `url` (within 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return True
        except (requests.ConnectionError, requests.Timeout):  # not listening, or booting
            time.sleep(0.2)
    return False


def _printed_url(log_path: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"Open (http://\S+/) to install", log_path.read_text())
        if match:
            if not _answers(match.group(1)):  # the simulator starts a moment later
                raise AssertionError("the simulator did not answer:\n" + log_path.read_text())
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError("make run printed no URL:\n" + log_path.read_text())


def install_as_owner(page: Any, panel_url: str) -> tuple[Any, Any]:
    """In the control panel at `panel_url`, install as demo1234's owner; (owner row, app frame)."""
    from playwright.sync_api import expect

    page.goto(panel_url)
    owner_row = page.locator("section[data-store=demo1234] tr[data-user='1001']")
    owner_row.get_by_role("button", name="Install", exact=True).click()
    app = page.frame_locator("iframe#app")
    expect(app.get_by_text("The app is installed on your store")).to_be_visible(timeout=15000)
    return owner_row, app


def test_install_and_open_app_inside_the_control_panel_iframe(
    make_run: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context()
        page = context.new_page()
        owner_row, app = install_as_owner(page, make_run)

        page.goto(make_run)
        owner_row.get_by_role("button", name="Open app").click()
        expect(app.get_by_test_id("store-hash")).to_have_text("demo1234", timeout=15000)
        expect(app.get_by_test_id("user-email")).to_contain_text("owner@demo1234.example")
        screenshot = Path(os.environ.get("BCAPP_SCREENSHOT", tmp_path / "control-panel.png"))
        page.screenshot(path=str(screenshot))
        browser.close()


@pytest.mark.parametrize("partitioned", [True, False])
def test_session_cookie_must_be_partitioned_inside_the_cross_site_iframe(
    settings: Settings, sim: SimulatorState, partitioned: bool
) -> None:
    """The reason for `Partitioned`: without it Chromium drops the iframe's session cookie, and
    (in cookie mode: with bearer sessions the page opens in place, tests/e2e/
    test_browser_bearer.py) the page offers the app in a new tab through the one-time handoff."""
    from playwright.sync_api import sync_playwright

    wsgi: dict[str, Any] = {}
    with (
        ServedApp(lambda env, start: wsgi["app"](env, start)) as app_server,
        ServedApp(lambda env, start: wsgi["sim"](env, start)) as sim_server,
    ):
        panel_url = sim_server.url.replace("127.0.0.1", "localhost")  # cross-site to the app
        app_settings = replace(
            settings,
            app_url=app_server.url,
            auth_callback_url=app_server.url + "/bigcommerce/auth",
            login_url=sim_server.url,
            # No BCAPP_FRAME_ANCESTORS: the app page allows the control panel the store API
            # reports; a page of no known store allows the simulator, as in development.
            simulator_url=panel_url,
            sessions_mode="cookie",
        )
        sim.control_panel_url = panel_url
        app = create_app(app_settings)
        cookie_of(app).partitioned = partitioned
        sim.redirect_uri, sim.app_url = app_settings.auth_callback_url, app_server.url
        wsgi["app"], wsgi["sim"] = app, create_simulator(sim)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page()
            page.goto(panel_url + "/")
            page.locator("tr[data-user='1']").get_by_role(
                "button", name="Install", exact=True
            ).click()
            frame = page.frame_locator("iframe#app")
            text = frame.locator("h1").first.inner_text(timeout=15000)
            new_tab_text = ""
            if not partitioned:  # the page offers the app in a new tab, where it works
                with page.context.expect_page() as opened:
                    frame.get_by_test_id("new-tab").click()
                new_tab = opened.value
                new_tab_text = new_tab.get_by_test_id("store-hash").inner_text(timeout=15000)
            browser.close()
        service_of(app).close()
    if partitioned:
        assert "installed on your store" in text
    else:
        assert "kept the app from signing you in" in text, "an unpartitioned cookie is dropped"
        assert new_tab_text == "abc123", "the one-time handoff opens the app in a new tab"


def test_own_pages_inside_the_iframe_settings_products_csrf_and_uninstall(
    make_run: str, tmp_path: Path
) -> None:
    """Open the app, page through products, save a setting; a forged form gets the 403 page;
    the worker example prints the store's products from make run's simulator; after an
    uninstall (from another tab of the control panel) the same iframe is refused."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context()
        page = context.new_page()
        _, app = install_as_owner(page, make_run)

        app.get_by_test_id("products-link").click()
        expect(app.get_by_test_id("page")).to_have_text("page 1 of 3", timeout=15000)
        app.get_by_test_id("next").click()
        expect(app.get_by_test_id("page")).to_have_text("page 2 of 3", timeout=15000)
        expect(app.get_by_text("Sample product 11")).to_be_visible()
        app.get_by_test_id("next").click()
        expect(app.get_by_test_id("page")).to_have_text("page 3 of 3", timeout=15000)
        expect(app.get_by_test_id("next")).to_have_count(0)  # the pager's end

        simulator_port = int(make_run.rstrip("/").rsplit(":", 1)[1])
        worker = subprocess.run(  # same checkout, same instance/: the settings make run uses
            [sys.executable, "examples/worker.py"],
            cwd=REPO,
            env={
                "PATH": "/usr/bin:/bin",
                "PORT": str(simulator_port - 1),
                "BCAPP_INSTANCE_DIR": str(tmp_path / "instance"),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert worker.returncode == 0, worker.stderr
        assert worker.stdout.splitlines()[0] == "demo1234\t1\tSample product 1\t10.5"

        app.get_by_role("link", name="Settings").click()
        app.locator("input[name=greeting]").fill("Hello from the browser test")
        app.get_by_role("button", name="Save").click()
        expect(app.get_by_test_id("saved")).to_be_visible(timeout=15000)
        expect(app.locator("input[name=greeting]")).to_have_value("Hello from the browser test")

        frame = page.locator("iframe#app").element_handle().content_frame()
        assert frame is not None
        frame.evaluate(  # a forged form: the same fields, without the session's token
            "() => { const f = document.querySelector('[data-testid=settings-form]');"
            " f.querySelector('[name=csrf_token]').remove();"
            " f.querySelector('[name=greeting]').value = 'forged'; f.submit(); }"
        )
        expect(app.get_by_text("This form has expired")).to_be_visible(timeout=15000)
        app.get_by_test_id("home").click()  # the error page's way back into the app
        expect(app.get_by_test_id("store-hash")).to_have_text("demo1234", timeout=15000)

        staff = browser.new_context().new_page()  # another browser: the staff user's
        staff.goto(make_run)
        staff.locator("section[data-store=demo1234] tr[data-user='1002']").get_by_role(
            "button", name="Open app"
        ).click()
        staff_app = staff.frame_locator("iframe#app")
        expect(staff_app.get_by_test_id("store-hash")).to_have_text("demo1234", timeout=15000)
        panel = context.new_page()  # the owner, in the control panel
        panel.goto(make_run)
        panel.locator("section[data-store=demo1234] tr[data-user='1002']").get_by_role(
            "button", name="Remove user"
        ).click()
        expect(panel.locator("#events")).to_contain_text("remove", timeout=15000)
        staff_frame = staff.locator("iframe#app").element_handle().content_frame()
        assert staff_frame is not None
        staff_frame.goto(staff_frame.url.split("?")[0].rsplit("/", 1)[0] + "/settings")
        expect(staff_app.get_by_text("Your access to this app was removed")).to_be_visible(
            timeout=15000
        )

        panel.locator("section[data-store=demo1234]").get_by_role(
            "button", name="Rotate the app's token"
        ).click()
        expect(panel.locator("#events")).to_contain_text("token of demo1234 rotated")
        frame.goto(frame.url.split("?")[0].rsplit("/", 1)[0] + "/products")
        expect(app.get_by_text("The app needs to be re-authorised")).to_be_visible(timeout=15000)

        other = context.new_page()
        other.goto(make_run)
        other.locator("section[data-store=demo1234] tr[data-user='1001']").get_by_role(
            "button", name="Uninstall"
        ).click()
        expect(other.locator("#events")).to_contain_text("uninstall demo1234", timeout=15000)
        frame.goto(frame.url.split("?")[0].rsplit("/", 1)[0] + "/settings")
        expect(app.get_by_text("The app was uninstalled")).to_be_visible(timeout=15000)
        browser.close()


@contextmanager
def restarted_simulator(panel_url: str, instance: Path) -> Iterator[None]:
    """Stop make run's simulator and start another on its port, from the same instance/ (as a
    developer restarting it would); the new one is stopped when the block ends."""
    port = int(panel_url.rstrip("/").rsplit(":", 1)[1])
    found = subprocess.run(
        ["pgrep", "-f", f"bcapp.cli simulator --port {port}"], capture_output=True, text=True
    )
    for pid in found.stdout.split():
        os.kill(int(pid), signal.SIGTERM)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC", "REDIS_URL"))}
    env |= {"PORT": str(port - 1), "BCAPP_INSTANCE_DIR": str(instance)}
    deadline = time.monotonic() + 20
    while True:  # the port is free once the old one is gone
        try:
            requests.get(panel_url, timeout=1)
            time.sleep(0.1)
        except requests.ConnectionError:
            break
        assert time.monotonic() < deadline, "the old simulator did not stop"
    again = subprocess.Popen(
        [sys.executable, "-m", "bcapp.cli", "simulator", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert _answers(panel_url), "the restarted simulator answers"
        yield
    finally:
        again.terminate()
        again.wait(timeout=10)


def test_create_an_order_in_the_simulator_shows_on_the_apps_events_page(
    make_run: str, tmp_path: Path
) -> None:
    """Issue 18, acceptance 6: `make run` subscribes the store after the install (its worker),
    the panel's "Create an order" delivers the webhook, the worker runs the example's handler,
    and the app's Events page inside the iframe lists the order. Issue 20, acceptance 2: the
    simulator restarted in between keeps its world (the install, the hooks)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context().new_page()
        owner_row, app = install_as_owner(page, make_run)
        store = page.locator("section[data-store=demo1234]")
        for _ in range(100):  # the subscription task runs in make run's worker
            page.goto(make_run)
            if store.get_by_text("store/order/*").count():
                break
            time.sleep(0.2)
        expect(store.get_by_test_id("hooks")).to_contain_text("store/order/*")
        with restarted_simulator(make_run, tmp_path / "instance"):
            page.goto(make_run)
            expect(store.get_by_text("app installed")).to_be_visible(timeout=15000)
            expect(store.get_by_test_id("hooks")).to_contain_text("store/order/*")
            store.locator("button[data-event=order]").click()
            owner_row.get_by_role("button", name="Open app").click()
            app.get_by_test_id("events-link").click()
            listed = app.get_by_test_id("events")
            for _ in range(50):  # the handler runs in the worker, a moment after the delivery
                if listed.get_by_text("store/order/created").count():
                    break
                time.sleep(0.2)
                app.locator("body").evaluate("() => location.reload()")
            expect(listed).to_contain_text("store/order/created", timeout=15000)
        browser.close()


def test_an_app_extension_on_an_order_opens_the_app_on_that_order(make_run: str) -> None:
    """Issue 19, acceptance 2: the example's App Extension, registered by make run's worker
    after the install, shows in the simulator's order rows; clicking it on order 101 opens the
    app inside the iframe on /orders/101 with a working session."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context().new_page()
        install_as_owner(page, make_run)
        orders = page.locator("section[data-store=demo1234] div[data-records=ORDERS]")
        for _ in range(100):  # registered by the post-install task in make run's worker
            page.goto(make_run)
            if orders.count():
                break
            time.sleep(0.2)
        orders.locator("tr[data-record='101']").get_by_role(
            "button", name="Open in My app"
        ).click()
        app = page.frame_locator("iframe#app")
        expect(app.get_by_test_id("order")).to_have_text("Order #101", timeout=15000)
        expect(app.get_by_test_id("deep-link")).to_have_text("/orders/101")
        expect(app.get_by_test_id("store-hash")).to_have_text("demo1234")
        app.get_by_role("link", name="Events").click()  # the session works for other pages
        expect(app.get_by_test_id("events")).to_be_visible(timeout=15000)
        browser.close()
