"""Sessions without cookies in a real browser (issue 29, acceptance 4): Chromium blocking every
third-party cookie (partitioned ones too) opens the example's page inside the simulator's
control panel, and the page loads its data with `bcapp.js`'s bearer token; after the user is
removed, the page's next call is a 401; a load JWT sent as a bearer is a 401.

Skipped, loudly, when no Chromium is installed (`.ci/run` installs Debian's `chromium`).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from bcapp.settings import Settings
from bcapp.simulator import ServedApp, SimulatorState, create_simulator
from bcapp.web import create_app
from tests.conftest import service_of
from tests.e2e.test_browser import CHROMIUM, FLAGS, pytestmark  # noqa: F401 - skips too
from tests.helpers import signed


def blocking_the_apps_cookies(playwright: Any, profile: Path, app_url: str) -> Any:
    """Chromium whose profile blocks every cookie of the app's site, partitioned ones too (its
    "Block third-party cookies" setting lets partitioned cookies through, as CHIPS intends;
    Safari and a user's per-site block do not): a content-setting exception, as the
    settings page writes it, in the profile's Preferences."""
    preferences = {"profile": {"content_settings": {"exceptions": {"cookies": {
        f"{app_url},*": {"setting": 2}}}}}}
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
        env={**os.environ, "TMPDIR": "/tmp"},
    )

FETCH_STATUS = """async (bearer) => {
  const headers = bearer ? {Authorization: "Bearer " + bearer} : {};
  return (await fetch("/api/summary", bearer ? {headers} : {})).status;
}"""


def test_with_third_party_cookies_blocked_the_page_loads_its_data_with_the_bearer(
    settings: Settings, sim: SimulatorState, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    wsgi: dict[str, Any] = {}
    with (
        ServedApp(lambda env, start: wsgi["app"](env, start)) as app_server,
        ServedApp(lambda env, start: wsgi["sim"](env, start)) as sim_server,
    ):
        panel_url = sim_server.url.replace("127.0.0.1", "localhost")  # cross-site to the app
        app = create_app(replace(
            settings,
            app_url=app_server.url,
            auth_callback_url=app_server.url + "/bigcommerce/auth",
            login_url=sim_server.url,
            simulator_url=panel_url,
            example_pages=True,
        ))
        sim.control_panel_url = panel_url
        sim.redirect_uri, sim.app_url = app_server.url + "/bigcommerce/auth", app_server.url
        sim.third_party_cookies_blocked = True  # what the panel says of this browser
        wsgi["app"], wsgi["sim"] = app, create_simulator(sim)
        with sync_playwright() as playwright:
            browser = blocking_the_apps_cookies(playwright, tmp_path / "chromium",
                                                app_server.url)
            page = browser.new_page()
            page.goto(panel_url + "/")
            page.locator("tr[data-user='1']").get_by_role("button", name="Install",
                                                          exact=True).click()
            owner = page.frame_locator("iframe#app")
            expect(owner.get_by_test_id("without-cookie")).to_be_visible(timeout=15000)
            expect(owner.get_by_test_id("live-summary")).to_contain_text(
                "owner@example.com sees", timeout=15000)
            assert page.locator("iframe#app").get_attribute("data-third-party-cookies") == (
                "blocked")
            assert browser.cookies(app_server.url) == [], "the browser kept no cookie"

            staff_page = browser.new_page()
            staff_page.goto(panel_url + "/")
            staff_page.locator("tr[data-user='2']").get_by_role("button", name="Open app").click()
            staff = staff_page.frame_locator("iframe#app")
            expect(staff.get_by_test_id("live-summary")).to_contain_text(
                "staff@example.com sees", timeout=15000)
            frame = staff_page.locator("iframe#app").element_handle().content_frame()
            assert frame is not None
            token = frame.evaluate("() => window.bcapp.token()")
            assert frame.evaluate(FETCH_STATUS, token) == 200
            assert frame.evaluate(FETCH_STATUS, signed(user={"id": 2})) == 401, (
                "a load JWT is never a bearer")

            page.goto(panel_url + "/")  # the owner removes the staff user
            page.locator("tr[data-user='2']").get_by_role("button", name="Remove user").click()
            expect(page.locator("#events")).to_contain_text("remove", timeout=15000)
            assert frame.evaluate(FETCH_STATUS, token) == 401, "removed: the next call is 401"
            browser.close()
        service_of(app).close()
