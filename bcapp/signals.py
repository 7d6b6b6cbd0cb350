"""Extension points for apps built on bcapp (blinker signals, as Flask uses).

Each signal is sent with the store hash as sender and keyword arguments:

- ``app_installed``: ``installation`` (Installation; its token is plaintext in memory), ``user``
- ``app_loaded``: ``user`` (StoreUser) and ``path`` (the deep link being opened)
- ``app_uninstalled``: ``user_id`` of whoever uninstalled
- ``user_removed``: ``user_id`` of the removed user

Receivers run inside the request; keep them fast and let them raise nothing you need.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

app_installed = _signals.signal("app-installed")
app_loaded = _signals.signal("app-loaded")
app_uninstalled = _signals.signal("app-uninstalled")
user_removed = _signals.signal("user-removed")
