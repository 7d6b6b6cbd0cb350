"""The Account API's GraphQL endpoint, called within the shared budget (budget.py).

`POST {BC_API_URL}/accounts/{partner uuid}/graphql` with the account-level token in
`X-Auth-Token`. Errors come as GraphQL `errors` with HTTP 200 (BillingFailed with BigCommerce's
message); a 429 or a call over bcapp's budget is BudgetSpent (never sent again by bcapp: the
hour's requests are too few to spend on retries). The token appears in no log, error or page.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from bcapp.bigcommerce.http import mount, pooled_adapter
from bcapp.billing.budget import AccountApiBudget
from bcapp.billing.config import BillingSettings
from bcapp.clock import Clock
from bcapp.errors import BcappError
from bcapp.metrics import ACCOUNT_API_CALLS

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES = 1 << 20


class BillingFailed(BcappError):
    """The Account API refused or failed a call; `detail` is BigCommerce's message (502)."""

    status = 502
    title = "BigCommerce's billing did not answer as expected"
    advice = "Please try again in a few minutes."


class BudgetSpent(BcappError):
    """The Account API's hourly budget is spent; the call was not sent (503)."""

    status = 503
    title = "Billing is busy"
    advice = "Please try again in a few minutes."


class AccountApi:
    """GraphQL calls to the partner account's Account API."""

    def __init__(
        self,
        settings: BillingSettings,
        api_url: str,
        budget: AccountApiBudget,
        clock: Clock,
        user_agent: str,
        timeouts: tuple[float, float],
    ) -> None:
        self._url = settings.endpoint(api_url)
        self._token = settings.account_api_token
        self._budget = budget
        self._clock = clock
        self._user_agent = user_agent
        self._timeouts = timeouts
        self._session = mount(requests.Session(), pooled_adapter())

    def call(self, query: str, variables: dict[str, Any], interactive: bool) -> dict[str, Any]:
        """Send one operation within the budget; its `data`."""
        wait = self._budget.take(self._clock.now(), interactive)
        if wait:
            ACCOUNT_API_CALLS.labels("over_budget").inc()
            raise BudgetSpent("billing_budget", retry_after=int(wait) + 1)
        try:
            response = self._session.post(
                self._url,
                json={"query": query, "variables": variables},
                headers={"X-Auth-Token": self._token, "Accept": "application/json",
                         "User-Agent": self._user_agent},
                timeout=self._timeouts,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            ACCOUNT_API_CALLS.labels("unreachable").inc()
            raise BillingFailed("billing_unreachable", type(exc).__name__) from exc
        return self._answer(response)

    def _answer(self, response: requests.Response) -> dict[str, Any]:
        if response.status_code == 429:
            ACCOUNT_API_CALLS.labels("rate_limited").inc()
            raise BudgetSpent("billing_rate_limited", retry_after=_retry_after(response))
        if response.status_code != 200 or len(response.content) > MAX_ANSWER_BYTES:
            ACCOUNT_API_CALLS.labels(f"status_{response.status_code}").inc()
            status = response.status_code
            raise BillingFailed("billing_status", f"the Account API answered {status}")
        try:
            answer = response.json()
        except ValueError as exc:
            ACCOUNT_API_CALLS.labels("malformed").inc()
            raise BillingFailed("billing_malformed", "the answer is not JSON") from exc
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if isinstance(errors, list) and errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            ACCOUNT_API_CALLS.labels("refused").inc()
            raise BillingFailed("billing_refused", str(first.get("message", "unknown error"))[:300])
        data = answer.get("data") if isinstance(answer, dict) else None
        ACCOUNT_API_CALLS.labels("ok").inc()
        return data if isinstance(data, dict) else {}

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()


def _retry_after(response: requests.Response) -> int:
    text = response.headers.get("Retry-After", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 60
