"""The README's "Charging merchants" block runs as written: its plan, receiver and gated page,
against the simulator's Account API over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from bcapp.billing.config import BillingSettings
from bcapp.scopes import ScopeSet
from bcapp.simulator import SimulatorState
from bcapp.simulator import billing as sim_billing
from tests.architecture.test_readme_examples import block, myapp, with_body
from tests.conftest import service_of
from tests.helpers import DEFAULT_SCOPE, install
from tests.test_billing import checkout_input
from tests.workers import running_worker, wait_until

__all__ = ["myapp"]  # the fixture, used below
SCOPES = f"{DEFAULT_SCOPE} store_v2_information"


def test_the_billing_block_runs_as_written(
    myapp: Path, make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    code = with_body(block("python", "# myapp/billing.py"), "CHANGES.append((store_hash, change))")
    (myapp / "billing.py").write_text("CHANGES = []\n" + code)
    config = BillingSettings(sim.account_uuid, sim.account_api_token, sim.app_id)
    app = make_app(blueprints=("myapp.billing:bp",), billing=config,
                   required_scopes=ScopeSet.parse(SCOPES))
    client = app.test_client()
    assert install(client, sim, scope=SCOPES).status_code == 302
    gated = client.get("/insights")
    assert (gated.status_code, gated.headers["Location"]) == (302, "/plans")
    bought = sim_billing.create_checkout(sim, checkout_input(sim, "Pro"), sim.clock())
    sim_billing.approve(sim, bought.id)
    service = service_of(app)
    assert service.billing is not None and service.billing.sweep().changed == 1
    page = client.get("/insights")
    assert page.status_code == 200
    assert page.get_data(as_text=True) == "Insights of the Pro plan (ACTIVE)"
    from myapp.billing import CHANGES  # type: ignore[import-not-found]

    with running_worker(service):
        wait_until(lambda: CHANGES, what="the README's receiver")
    assert CHANGES == [("abc123", "created")]
