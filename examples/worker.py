"""A background worker built on bcapp: every installed store's products, through the shared client.

Run it beside `make run`, from the checkout (same `.env` and `instance/`, so the same Redis and
the local simulator):

    .venv/bin/python examples/worker.py

It uses no Flask: `bcapp.connect()` builds bcapp's services from the same settings as the
server, each on first use (this script builds only `stores`: no load path, no callbacks). It is
a script of your own; `bcapp worker` is the Celery worker that runs your webhook handlers. The
store client shares each store's request budget with every other process through Redis, waits
out rate limits, retries safe calls, and flags a store whose token BigCommerce refuses.
"""

from __future__ import annotations

import sys

import bcapp
from bcapp import signals
from bcapp.errors import BcappError


def on_reauthorization_needed(store_hash: str, **extra: object) -> None:
    """A worker can react to lifecycle events too (here: say so)."""
    print(f"store {store_hash} needs re-authorising", file=sys.stderr)


def main() -> int:
    """Print up to 25 products of every installed store; 1 when a store failed."""
    signals.store_needs_reauthorization.connect(on_reauthorization_needed)
    failed = 0
    with bcapp.connect() as app:  # closes its Redis and HTTP connections on the way out
        for store_hash in app.stores.installed():
            client = app.stores.client(store_hash)
            try:
                for number, product in enumerate(client.pages_v3("v3/catalog/products")):
                    if number == 25:
                        break
                    print(f"{store_hash}\t{product['id']}\t{product['name']}\t{product['price']}")
            except BcappError as error:
                print(f"store {store_hash}: {error.reason}", file=sys.stderr)
                failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
