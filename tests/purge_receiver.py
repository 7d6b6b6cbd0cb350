"""A BCAPP_RECEIVERS module for tests: records each installation_purged to a file."""

from __future__ import annotations

import os
from pathlib import Path

from bcapp import signals


@signals.installation_purged.connect
def record_purge(store_hash: str, **extra: object) -> None:
    """Append the purged store's hash to the file named by BCAPP_TEST_PURGE_LOG."""
    with Path(os.environ["BCAPP_TEST_PURGE_LOG"]).open("a") as log:
        log.write(f"installation_purged {store_hash}\n")
