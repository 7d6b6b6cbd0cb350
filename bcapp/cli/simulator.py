"""`bcapp simulator`: run the local BigCommerce, or fire one store event at the running one.

The simulator runs in a process of its own (started by `make run`'s gunicorn settings, or by
hand), so `bcapp simulator event` reaches it over HTTP at `BCAPP_SIMULATOR_URL`
(bcapp/simulator/control_api.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from bcapp.app_spec import load_declarations
from bcapp.cli.common import echo, fail
from bcapp.errors import ConfigurationError
from bcapp.settings import Settings


def _settings() -> Settings:
    try:
        return load_declarations(Settings.from_env())  # the app's scopes, which it grants
    except ConfigurationError as exc:
        fail(str(exc))


@click.group(invoke_without_command=True)
@click.option("--port", type=int, default=None, help="port (default: from BCAPP_SIMULATOR_URL)")
@click.pass_context
def simulator(context: click.Context, port: int | None) -> None:
    """Run the local BigCommerce simulator for this app's settings (`bcapp simulator event`
    fires one store event at the running one)."""
    if context.invoked_subcommand is not None:
        return
    from bcapp.billing.config import simulator_seed
    from bcapp.simulator import ServedApp, create_simulator, persistence, seeded_state

    settings = _settings()
    chosen = port or urlsplit(settings.simulator_url or "http://localhost:8001").port or 8001
    state = seeded_state(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uri=settings.auth_callback_url,
        app_url=settings.app_url,
        app_scopes=str(settings.required_scopes),
        control_panel_url=f"http://localhost:{chosen}",
        **simulator_seed(settings.billing),
    )
    kept = settings.instance_dir / "simulator.json"
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    restored = persistence.load(state, kept)  # the stores of the last run, installs included
    for name, value in simulator_seed(settings.billing).items():  # today's settings win
        setattr(state, name, value)
    server = ServedApp(create_simulator(state, kept), port=chosen)
    click.echo(f"BigCommerce simulator: open http://localhost:{chosen}/")
    if restored:
        click.echo(f"  (its stores as they were, from {kept})")
    click.echo(f"  (playing BigCommerce for the app at {settings.app_url})")
    server.serve_forever()


@simulator.command("event", short_help="Fire one store event at the running simulator.")
@click.argument("scope")
@click.option("--store", "store_hash", required=True, help="the simulated store, e.g. demo1234")
def event(scope: str, store_hash: str) -> None:
    """Fire one store event (e.g. store/order/created) at the running simulator.

    SCOPE is store/order/{created,updated,archived,statusUpdated} or
    store/{product,customer,category}/{created,updated,deleted}. The event goes to the store's
    hooks of that scope as the panel's buttons send it, retries included; store/order/created
    creates the order first.
    """
    from bcapp.simulator.control_api import NotFired, send_event

    url = _settings().simulator_url
    if url is None:
        fail(
            "no simulator in this configuration: it runs in development without BC_CLIENT_ID "
            "(BCAPP_SIMULATOR_URL says where)"
        )
    try:
        fired = send_event(url, scope, store_hash)
    except NotFired as exc:
        fail(str(exc))
    echo(f"{scope} #{fired.record_id} on {store_hash}: sent to {fired.hooks} hook(s)")
    if not fired.hooks:
        echo("  (no active hook of that scope: is the app installed there, with a handler for it?)")
