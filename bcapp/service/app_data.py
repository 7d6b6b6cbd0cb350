"""One store's app data, as pages (`ctx.app_data`) and webhook handlers (`event.app_data`) use it.

```python
greeting = ctx.app_data.get("greeting", "Hello")
ctx.app_data.set_many({"greeting": "Hi", "show_prices": "1"})   # only these two fields
event.app_data.update("seen", lambda kept: str(int(kept or "0") + 1))   # atomic
```

Text fields in one Redis hash per store (bcapp/store/app_data.py), kept and deleted with the
installation. Writes name their fields, so a page saving its form never undoes what a worker
wrote in between; `update` is a read-modify-write in one atomic step (`change` runs again on
the fresh value when another writer came first, so it must only compute). At most 1,000
fields a store, names of 1 to 256 printable characters, values of 64 KiB at most: past them a
write raises ValueError and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import overload

from bcapp.store.app_data import RedisAppData


class AppData:
    """The app's own data for one store: read, write and atomically update text fields."""

    def __init__(self, store: RedisAppData, store_hash: str) -> None:
        self._store = store
        self.store_hash = store_hash

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field `name`, or `default` when the store has none."""
        return self._store.get(self.store_hash, (name,)).get(name, default)

    def get_all(self) -> dict[str, str]:
        """Every field the store has."""
        return self._store.get(self.store_hash)

    def set(self, name: str, value: str) -> None:
        """Write one field (no other is touched)."""
        self._store.set(self.store_hash, {name: value})

    def set_many(self, values: Mapping[str, str]) -> None:
        """Write these fields in one step (no other is touched)."""
        self._store.set(self.store_hash, values)

    def delete(self, *names: str) -> None:
        """Delete these fields."""
        self._store.delete(self.store_hash, names)

    def update(self, name: str, change: Callable[[str | None], str | None]) -> str | None:
        """Set `name` to `change(its current value or None)` atomically, None deleting it;
        returns the value kept."""
        return self._store.update(self.store_hash, name, change)
