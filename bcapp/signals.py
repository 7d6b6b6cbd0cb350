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

Receivers connected with ``connect`` run in the process that does the work (a web worker, or
`bcapp reconcile` for ``installation_purged`` and ends found by probing), so keep them fast.
A receiver connected with ``connect_task`` runs in a task worker instead (`bcapp worker`), with
retries and dead letters as webhook handlers have: ``receiver(store_hash, **fields)`` where the
fields are the signal's JSON values (a ``user`` becomes ``user_id`` and ``user_email``; the
``installation`` is not sent: read the store through ``bcapp.connect()``). A web request sets
the publisher (`set_publisher`) to the tasks service's `publish_signal`
(bcapp/service/tasks.py). Outside a web request (the CLI, a worker) task receivers run at
once, in that process: it is off the request path already. `BCAPP_APP`'s module and those
`BCAPP_RECEIVERS` names are imported once by every bcapp process when it wires bcapp
(bcapp/app_spec.py, `load_declarations`), so they can connect their receivers.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from blinker import NamedSignal

# (signal, receiver name, store hash, fields) -> queues one run; set for each web request.
TaskPublisher = Callable[[str, str, str, dict[str, Any]], None]
TaskReceiver = Callable[..., object]
_publisher: ContextVar[TaskPublisher | None] = ContextVar("bcapp_task_publisher", default=None)
_task_receivers: dict[str, dict[str, TaskReceiver]] = {}


class TaskSignal(NamedSignal):
    """A blinker signal whose receivers may also run as background tasks."""

    def connect_task(self, receiver: TaskReceiver) -> TaskReceiver:
        """Run `receiver(store_hash, **fields)` in a task worker each time this is sent."""
        name = f"{receiver.__module__}:{receiver.__qualname__}"
        _task_receivers.setdefault(self.name, {})[name] = receiver
        return receiver

    def send(self, sender: Any = None, /, **kwargs: Any) -> list[tuple[Any, Any]]:
        """Call the receivers, then queue (or, outside a request, run) the task receivers."""
        results = super().send(sender, **kwargs)
        receivers = _task_receivers.get(self.name)
        if receivers:
            fields = task_fields(kwargs)
            publish = _publisher.get()
            for name, receiver in receivers.items():
                if publish is None:
                    receiver(sender, **fields)
                else:
                    publish(self.name, name, str(sender), fields)
        return results


def task_fields(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A signal's keyword arguments as a task carries them: JSON values as they are, a user
    as `<name>_id` and `<name>_email`, anything holding a token left out."""
    fields: dict[str, Any] = {}
    for key, value in kwargs.items():
        if value is None or isinstance(value, str | int | float | bool):
            fields[key] = value
        elif hasattr(value, "email") and not hasattr(value, "access_token"):  # a person
            fields[f"{key}_id"], fields[f"{key}_email"] = value.id, value.email
    return fields


def task_receiver(signal_name: str, receiver_name: str) -> TaskReceiver | None:
    """The task receiver `receiver_name` of a signal, if it is still connected."""
    return _task_receivers.get(signal_name, {}).get(receiver_name)


def task_receiver_names(signal_name: str) -> list[str]:
    """The names of a signal's task receivers connected now."""
    return list(_task_receivers.get(signal_name, {}))


def set_publisher(publish: TaskPublisher | None) -> None:
    """Queue task receivers through `publish` in this context (a web request sets it first)."""
    _publisher.set(publish)


app_installed = TaskSignal("app-installed")
app_loaded = TaskSignal("app-loaded")
app_uninstalled = TaskSignal("app-uninstalled")
app_reinstated = TaskSignal("app-reinstated")
installation_purged = TaskSignal("installation-purged")
user_removed = TaskSignal("user-removed")
store_needs_reauthorization = TaskSignal("store-needs-reauthorization")
