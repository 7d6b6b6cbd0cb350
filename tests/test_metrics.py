"""GET /metrics: only with the bearer token, exact across gunicorn workers, no secrets in labels."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from flask import Flask

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import CLIENT_SECRET
from tests.helpers import OWNER, STAFF, auth_query, signed
from tests.servers import environment_for, gunicorn

TOKEN = "metrics-token-0123456789abcdef"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition `text` (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
        if not labels and line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", "", TOKEN, f"Token {TOKEN}"],
)
def test_metrics_are_404_without_the_bearer_token(
    make_app: Callable[..., Flask], header: str | None
) -> None:
    client = make_app(metrics_token=TOKEN).test_client()
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 404 and "bcapp_" not in response.get_data(as_text=True)


def test_metrics_are_404_when_disabled(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_with_the_token(make_app: Callable[..., Flask], sim: SimulatorState) -> None:
    client = make_app(metrics_token=TOKEN).test_client()
    client.get("/bigcommerce/auth?" + auth_query(sim))
    page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for name in (
        "bcapp_callbacks_total",
        "bcapp_token_exchange_seconds",
        "bcapp_installations",
        "bcapp_request_seconds",
        "bcapp_redis_errors_total",
    ):
        assert f"# TYPE {name}" in text


@pytest.mark.slow
def test_counts_are_exact_across_two_workers_and_labels_hold_no_secrets(
    settings: Settings, sim: SimulatorState, tmp_path: Path
) -> None:
    env = environment_for(settings) | {"BCAPP_METRICS_TOKEN": TOKEN}
    loads = 24
    used: list[str] = []
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2) as url:
        assert (
            requests.get(
                f"{url}/bigcommerce/auth?{auth_query(sim)}", allow_redirects=False, timeout=10
            ).status_code
            == 302
        )
        for n in range(loads):
            used.append(signed(user=OWNER if n % 2 else STAFF))
            answer = requests.get(
                f"{url}/bigcommerce/load",
                timeout=10,
                allow_redirects=False,
                params={"signed_payload_jwt": used[-1]},
            )
            assert answer.status_code == 302
        replay = requests.get(
            f"{url}/bigcommerce/load", params={"signed_payload_jwt": used[0]}, timeout=10
        )
        assert replay.status_code == 401
        assert requests.get(f"{url}/metrics", timeout=10).status_code == 404
        text = requests.get(
            f"{url}/metrics", timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
        ).text
    assert sample(text, "bcapp_callbacks_total", callback="load", outcome="ok") == loads
    assert sample(text, "bcapp_callbacks_total", callback="load", outcome="replayed") == 1
    assert sample(text, "bcapp_callbacks_total", callback="auth", outcome="ok") == 1
    assert sample(text, "bcapp_token_exchange_seconds_count") == 1
    assert sample(text, "bcapp_installations") == 1
    assert sample(text, "bcapp_request_seconds_count", route="/bigcommerce/load") == loads + 1
    for secret in [CLIENT_SECRET, *sim.issued_secrets, *used]:
        assert secret not in text
    assert "@" not in text, "no email in any label"


def test_webhook_and_task_metrics_follow_an_event_from_intake_to_handler(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    """Issue 18, Build 7: received and duplicate at the intake, the queue's depth at the scrape,
    handled and the task's wait and run in the worker (one process here: one registry)."""
    from bcapp import webhooks
    from tests.conftest import service_of
    from tests.helpers import install
    from tests.test_webhook_intake import deliver, order_event
    from tests.workers import running_worker, wait_until

    app = make_app(metrics_token=TOKEN)
    client = app.test_client()
    install(client, sim)
    webhooks.on("store/order/created")(lambda event: None)

    def scrape() -> str:
        return client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(
            as_text=True
        )

    def count(text: str, outcome: str) -> float:
        return sample(text, "bcapp_webhooks_total", scope="store/order/created", outcome=outcome)

    before = scrape()
    message = order_event()
    assert deliver(client, *message).json == {"status": "queued"}
    assert deliver(client, *message).json == {"status": "duplicate"}
    queued = scrape()
    assert count(queued, "received") - count(before, "received") == 1
    assert count(queued, "duplicate") - count(before, "duplicate") == 1
    # One task: a duplicate of a claimed delivery queues nothing (L8 of the fourth review).
    assert sample(queued, "bcapp_queue_depth") - sample(before, "bcapp_queue_depth") == 1
    runs = 'bcapp_task_seconds_count{phase="run",task="bcapp.handle_event"}'
    ran_before = sum(
        float(line.split()[1]) for line in before.splitlines() if line.startswith(runs)
    )
    with running_worker(service_of(app)):
        wait_until(
            lambda: count(scrape(), "handled") - count(before, "handled") == 1,
            what="the handled count",
        )
        wait_until(lambda: sample(scrape(), "bcapp_queue_depth") == 0, what="an empty queue")
    after = scrape()
    ran = sum(float(line.split()[1]) for line in after.splitlines() if line.startswith(runs))
    assert ran - ran_before == 1
    assert 'bcapp_task_seconds_count{phase="wait",task="bcapp.handle_event"}' in after
