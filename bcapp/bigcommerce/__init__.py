"""The one BigCommerce client: the OAuth token exchange and the store API.

Both share one pooled HTTP adapter and the injected clock, and raise errors of bcapp's
hierarchy (`bcapp.errors`): `BadRequest` for a spent code, `UpstreamError` for a failed token
endpoint, `ApiError`/`TokenRejected`/`RateLimited` for the store API.
"""

from __future__ import annotations

from typing import Any

from bcapp.bigcommerce.api import DEFAULT_MAX_WAIT_SECONDS, StoreApi
from bcapp.bigcommerce.budget import LocalBudget, RateBudget
from bcapp.bigcommerce.graphql import run_graphql
from bcapp.bigcommerce.http import pooled_adapter
from bcapp.bigcommerce.oauth import TokenExchange, TokenGrant
from bcapp.clock import Clock
from bcapp.settings import Settings

__all__ = ["BigCommerce", "RateBudget", "TokenGrant"]


class BigCommerce:
    """BigCommerce as bcapp talks to it: `exchange_code`, the REST calls and `graphql`."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        max_rate_limit_wait: float = DEFAULT_MAX_WAIT_SECONDS,
        budget: RateBudget | None = None,
    ) -> None:
        self._adapter = pooled_adapter()
        self._oauth = TokenExchange(settings, self._adapter, clock)
        self._api = StoreApi(
            settings, self._adapter, clock, budget or LocalBudget(clock), max_rate_limit_wait
        )

    def exchange_code(
        self, code: str, scope: str, context: str, account_uuid: str | None = None
    ) -> TokenGrant:
        """Exchange an auth code once (never retried); the parsed grant or a BcappError."""
        return self._oauth.exchange(code, scope, context, account_uuid)

    def get(self, store_hash: str, token: str, path: str, **params: str | int) -> Any:
        """The JSON body of a store API GET (`v2/...` or `v3/...`) within its rate limits."""
        return self._api.get(store_hash, token, path, **params)

    def get_within(self, seconds: float, store_hash: str, token: str, path: str) -> Any:
        """A GET that ends, retries included, after `seconds` (ApiError "deadline")."""
        return self._api.call("GET", store_hash, token, path, within=seconds)

    def post(self, store_hash: str, token: str, path: str, body: Any) -> Any:
        """The JSON answer of a store API POST (sent again only after a 429)."""
        return self._api.call("POST", store_hash, token, path, body=body)

    def call(
        self,
        method: str,
        store_hash: str,
        token: str,
        path: str,
        params: dict[str, str | int] | None = None,
        body: Any = None,
    ) -> Any:
        """Any store API call (GET, POST, PUT, DELETE) within the store's budget."""
        return self._api.call(method, store_hash, token, path, params, body)

    def graphql(
        self, store_hash: str, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The `data` of a GraphQL Admin API call (`POST /stores/<hash>/graphql`), within the
        store's budget; GraphQLFailed for an answer with `errors`. A query is retried like a
        GET; a mutation is never sent twice (graphql.py)."""
        return run_graphql(self._api, store_hash, token, query, variables)

    def close(self) -> None:
        """Release pooled connections."""
        self._api.close()
        self._adapter.close()
