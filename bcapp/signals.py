"""Extension points for apps built on bcapp (blinker signals, as Flask uses).

Each signal is sent with the store hash as sender and keyword arguments:

- ``app_installed``: ``installation`` (Installation; its token is plaintext in memory), ``user``
- ``app_loaded``: ``user`` (StoreUser) and ``path`` (the deep link being opened)
- ``app_uninstalled``: ``user_id`` (who uninstalled, None for a webhook or reconcile) and
  ``source`` ("callback", "webhook" or "reconcile"). Stop working for the store; keep its data:
  a forged uninstall callback is undone by the next genuine open of the app.
- ``app_reinstated``: ``user_id`` (whose load proved the uninstall forged), ``uninstalled_by``
- ``installation_purged``: the grace period after an uninstall ended and bcapp deleted the
  store's records: the place to delete the merchant's data
- ``user_removed``: ``user_id`` of the removed user
- ``store_needs_reauthorization``: the store API refused the stored token (401); shown on the
  app page and in `bcapp stores list` until the next install

Receivers run in the process that does the work (a web worker, or `bcapp reconcile` for
``installation_purged`` and ends found by probing); `BCAPP_RECEIVERS` names modules that every
bcapp process imports at start, so they can connect their receivers. Keep receivers fast.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

app_installed = _signals.signal("app-installed")
app_loaded = _signals.signal("app-loaded")
app_uninstalled = _signals.signal("app-uninstalled")
app_reinstated = _signals.signal("app-reinstated")
installation_purged = _signals.signal("installation-purged")
user_removed = _signals.signal("user-removed")
store_needs_reauthorization = _signals.signal("store-needs-reauthorization")
