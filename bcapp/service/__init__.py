"""The application's use cases, with their policy values, and no Flask.

Small services, one per audience, each a class with injected dependencies
(bcapp/service/wiring.py builds them all, once):

- `AppCallbacks` (`app_callbacks.py`): install, load, uninstall, remove user, webhooks;
- `Sessions` (`sessions.py`): resume a session, spend a one-time handoff;
- `Stores` (`stores.py`): installed stores' API clients and the app's data, for pages and workers;
- `Operations` (`operations.py`): what the CLI runs;
- `Tasks` (`tasks.py`): background work the webhook intake, the worker and the CLI share;
- `DeadLetters` (`dead_letters.py`): runs that gave up, listed and replayed.

The modules beside them hold the rules (`install`, `loading`, `access`, `callbacks`,
`webhooks`, `limits`, `handoff`, `store_client`, `app_data`, `subscriptions`,
`app_extensions`, `reconcile`, `api_accounts`) as functions or classes of their own.
"""

from __future__ import annotations
