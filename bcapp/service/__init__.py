"""The application's use cases, with their policy values, and no Flask.

Small services, one per audience, each a class with injected dependencies
(bcapp/service/wiring.py builds them all, once):

- `AppCallbacks` (`app_callbacks.py`): install, load, uninstall, remove user, webhooks;
- `Sessions` (`sessions.py`): resume a session, spend a one-time handoff;
- `Stores` (`stores.py`): installed stores' API clients and the app's data, for pages and workers;
- `Operations` (`operations.py`): what the CLI runs.

The modules beside them hold the rules (`install`, `loading`, `access`, `callbacks`,
`webhooks`, `reconcile`, `limits`, `handoff`) as functions or classes of their own.
"""

from __future__ import annotations
