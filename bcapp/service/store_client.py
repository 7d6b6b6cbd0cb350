"""One store's API for views and workers: JSON calls and paging within the shared budget.

A 401 means BigCommerce no longer accepts the stored token (uninstalled, or replaced by a
re-install elsewhere): the installation is flagged as needing re-authorisation, once, and
`store_needs_reauthorization` fires; the flag shows on the app page and in `bcapp stores list`
until the next install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from bcapp.bigcommerce import BigCommerce
from bcapp.errors import TokenRejected
from bcapp.models import Installation

DEFAULT_PAGE_SIZE = 50
MAX_PAGES = 1000  # a bound, so a misbehaving paging answer cannot loop forever


def unverifiable(installation: Installation) -> bool:
    """True for a store-level API account stored without its client secret."""
    return installation.kind == "api_account" and not installation.client_secret


class StoreClient:
    """GET/POST/PUT/DELETE with JSON for one installed store, v2/v3 paging, and GraphQL."""

    def __init__(
        self,
        installation: Installation,
        bigcommerce: BigCommerce,
        on_rejected: Callable[[Installation], None],
    ) -> None:
        self.store_hash = installation.store_hash
        self.scopes = installation.scopes  # what the store granted
        self.install_id = installation.install_id  # new with each install
        # A store-level API account's token is the merchant's, often shared with other tools:
        # what it lists of hooks and App Extensions is not all bcapp's (bcapp/store/created.py).
        self.shared_token = installation.kind == "api_account"
        # An API account stored without its client secret: its hooks' deliveries could not be
        # verified, so none are made (bcapp/service/subscriptions.py `NOT_SUBSCRIBED`).
        self.deliveries_unverifiable = unverifiable(installation)
        self._installation = installation
        self._bigcommerce = bigcommerce
        self._on_rejected = on_rejected

    def get(self, path: str, **params: str | int) -> Any:
        """GET `path` (``v3/catalog/products``); retried on 5xx and connection errors."""
        return self._call("GET", path, params)

    def post(self, path: str, body: Any) -> Any:
        """POST JSON; sent again only after a 429 (BigCommerce never processed it)."""
        return self._call("POST", path, None, body)

    def put(self, path: str, body: Any) -> Any:
        """PUT JSON (idempotent: retried like GET)."""
        return self._call("PUT", path, None, body)

    def delete(self, path: str) -> Any:
        """DELETE (idempotent: retried like GET)."""
        return self._call("DELETE", path)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a GraphQL Admin API operation, on the same budget as REST calls;
        GraphQLFailed (`bcapp.errors`) names the first GraphQL error. Queries are retried like
        GETs, mutations never."""
        try:
            return self._bigcommerce.graphql(
                self.store_hash, self._installation.access_token, query, variables
            )
        except TokenRejected:
            self._on_rejected(self._installation)
            raise

    def pages_v3(
        self, path: str, limit: int = DEFAULT_PAGE_SIZE, **params: str | int
    ) -> Iterator[Any]:
        """Every item of a v3 collection, page by page (`meta.pagination.total_pages`)."""
        for page in range(1, MAX_PAGES + 1):
            answer = self.get(path, page=page, limit=limit, **params)
            yield from items_of(answer)
            if page >= (total_pages(answer) or page):
                return

    def pages_v2(
        self, path: str, limit: int = DEFAULT_PAGE_SIZE, **params: str | int
    ) -> Iterator[Any]:
        """Every item of a v2 collection: pages until one comes back short or empty."""
        for page in range(1, MAX_PAGES + 1):
            items = self.get(path, page=page, limit=limit, **params)
            if not isinstance(items, list):
                return  # empty (204) or not a collection: nothing more to read
            yield from items
            if len(items) < limit:
                return

    def _call(
        self, method: str, path: str, params: dict[str, str | int] | None = None, body: Any = None
    ) -> Any:
        try:
            return self._bigcommerce.call(
                method, self.store_hash, self._installation.access_token, path, params, body
            )
        except TokenRejected:
            self._on_rejected(self._installation)
            raise


def items_of(answer: Any) -> list[Any]:
    """The `data` list of a v3 answer; [] for any other shape."""
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, list) else []


def total_pages(answer: Any) -> int | None:
    """`meta.pagination.total_pages` of a v3 answer when it is a whole number, else None
    (an API answer of another shape must not become a 500)."""
    meta = answer.get("meta") if isinstance(answer, dict) else None
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    pages = pagination.get("total_pages") if isinstance(pagination, dict) else None
    return pages if type(pages) is int and pages >= 0 else None
