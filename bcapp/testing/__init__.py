"""bcapp's test kit: a pytest plugin for testing your own app against a simulated BigCommerce.

Installed with bcapp (the `pytest11` entry point: bcapp/testing/fixtures.py), it adds these
fixtures to your tests:

- `bc_simulator`: an in-process BigCommerce (bcapp/simulator/), served over real HTTP on
  loopback, that installs, opens and calls your app as BigCommerce does;
- `bc_app`: your Flask app, built by your factory (BCAPP_APP, e.g. `shop:create_app`) for
  this test: a Redis of its own (embedded, or REDIS_URL's under a fresh prefix), fresh keys
  and secrets, and the simulator as BigCommerce;
- `bc_store`: a store with your app installed through the real OAuth flow, granted exactly
  the scopes your app declares, its post-install work (webhook subscriptions, App Extensions)
  done; the owner is user 1, a staff user is user 2;
- `bc_open(user_id=None, store=None, path="/")`: a Flask test client opened into your app
  through a signed load, as that user sees it in the control panel; `bc_client` is the owner's;
- `bc_deliver(scope, data, store=None)`: a signed webhook delivery through the real intake;
  your handlers run (in a Celery worker thread of the test) before it returns a `Delivery`;
  a failing handler is a dead letter at once (no retries in tests), its traceback kept;
- `bc_clock`: the clock your app and the simulator share; `bc_clock.advance(seconds)`.

Define a `bc_app_factory` fixture returning a callable to build the app some other way.
"""

from bcapp.testing.world import Delivery, SimulatedStore, World

__all__ = ["Delivery", "SimulatedStore", "World"]
