"""Reading settings imports nothing of the app; its declarations are loaded at wiring time, once
(bcapp/app_spec.py, `load_declarations`), by `build()` and the CLI alike."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from bcapp.app_spec import load_declarations
from bcapp.cli import main
from bcapp.scopes import BCAPP_SCOPES, ScopeSet
from bcapp.service.wiring import build
from bcapp.settings import Settings
from bcapp.store import embedded
from tests.conftest import CLIENT_SECRET
from tests.helpers import redis_snapshot
from tests.servers import environment_for

DECLARED = "store_v2_orders_read_only"


@dataclass(frozen=True)
class Planted:
    """A module of the app that declares a scope and writes a line to `marker` when imported."""

    name: str
    marker: Path

    def imports(self) -> int:
        """How many times the module was imported (run) so far."""
        return len(self.marker.read_text().splitlines()) if self.marker.exists() else 0


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[Planted]:
    """A fresh module (a name of its own, so no earlier test imported it) on `sys.path`."""
    folder = tmp_path / "app"
    folder.mkdir()
    module = Planted(f"writes_on_import_{uuid.uuid4().hex[:12]}", tmp_path / "imported.txt")
    (folder / f"{module.name}.py").write_text(
        "from pathlib import Path\n"
        "from bcapp import scopes\n"
        f"with Path({str(module.marker)!r}).open('a') as marker:\n"
        "    marker.write('imported\\n')\n"
        f"scopes.require({DECLARED!r}, reason='the orders page')\n"
        "app = None\n"
    )
    sys.path.insert(0, str(folder))
    try:
        yield module
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(module.name, None)


def cli_env(settings: Settings, tmp_path: Path, planted: Planted) -> dict[str, str]:
    """The test settings for a CLI run, declared by the planted module."""
    env = environment_for(settings) | {
        "BCAPP_INSTANCE_DIR": str(tmp_path / "cli-instance"),
        "APP_URL": "https://app.example.com",
        "BCAPP_RECEIVERS": planted.name,
    }
    del env["BC_AUTH_CALLBACK_URL"]
    return env


@pytest.mark.parametrize("variable", ["BCAPP_RECEIVERS", "BCAPP_APP"])
def test_reading_settings_imports_nothing_of_the_app(
    planted: Planted, tmp_path: Path, variable: str
) -> None:
    value = planted.name if variable == "BCAPP_RECEIVERS" else f"{planted.name}:app"
    read = Settings.from_env(
        {variable: value, "BCAPP_INSTANCE_DIR": str(tmp_path / "instance")},
        dotenv=str(tmp_path / "missing.env"),
    )
    assert not planted.marker.exists(), "the module never ran"
    assert planted.name not in sys.modules
    assert read.receiver_modules == (planted.name,), "named, to be imported at wiring time"
    assert read.required_scopes == BCAPP_SCOPES, "before the declarations: bcapp's own needs"


def test_wiring_imports_the_app_once_and_requires_what_it_declares(
    planted: Planted, settings: Settings, tmp_path: Path
) -> None:
    env = environment_for(settings) | {"BCAPP_RECEIVERS": planted.name}
    read = Settings.from_env(env, dotenv=str(tmp_path / "missing.env"))
    assert planted.imports() == 0
    with build(read) as first, build(read) as second:
        assert planted.imports() == 1, "imported once per process, however often it is wired"
        assert first.settings.required_scopes.names == BCAPP_SCOPES.names | {DECLARED}
        assert second.settings.required_scopes == first.settings.required_scopes
    assert DECLARED not in read.required_scopes.names, "the settings read stay as they were"


def test_scopes_given_to_the_settings_stay_beside_the_declared_ones(
    planted: Planted, settings: Settings
) -> None:
    given = replace(
        settings,
        required_scopes=ScopeSet.parse("store_v2_products"),
        receiver_modules=(planted.name,),
    )
    loaded = load_declarations(given)
    assert loaded.required_scopes.names == {"store_v2_products", DECLARED, *BCAPP_SCOPES.names}
    assert load_declarations(loaded) == loaded, "loading twice changes nothing"
    assert planted.imports() == 1


def test_bcapp_scopes_imports_the_app_once_and_prints_its_declarations(
    planted: Planted,
) -> None:
    env = {"BCAPP_RECEIVERS": planted.name, "BCAPP_EXAMPLE_PAGES": "false"}
    for _ in range(2):
        result = CliRunner().invoke(main, ["scopes"], env=env)
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == [*BCAPP_SCOPES, DECLARED]
    assert planted.imports() == 1


def test_bcapp_check_prints_the_declared_scopes(
    planted: Planted, settings: Settings, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["check"], env=cli_env(settings, tmp_path, planted))
    assert result.exit_code == 0, result.output
    assert f"required scopes: store_v2_information_read_only {DECLARED}\n" in result.output
    assert planted.imports() == 1


def test_bcapp_check_with_an_app_that_does_not_import_says_so_and_changes_nothing(
    planted: Planted,
    settings: Settings,
    tmp_path: Path,
    redis_client: redis.Redis,
) -> None:
    before = redis_snapshot(redis_client, settings.redis_prefix)
    env = cli_env(settings, tmp_path, planted) | {"BCAPP_APP": "no_such_app_module:app"}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith(
        "error: cannot import no_such_app_module (named by BCAPP_APP or BCAPP_RECEIVERS): "
    )
    assert "run bcapp from your project's directory" in result.output
    assert "required scopes" not in result.output, "nothing checked on a half-declared app"
    assert CLIENT_SECRET not in result.output
    assert redis_snapshot(redis_client, settings.redis_prefix) == before


def test_bcapp_check_without_its_app_starts_no_embedded_redis(tmp_path: Path) -> None:
    """The declarations load before anything starts: a failed check leaves no Redis running."""
    instance = tmp_path / "instance"
    env = {"BCAPP_APP": "no_such_app_module:app", "BCAPP_INSTANCE_DIR": str(instance),
           "REDIS_URL": "", "BC_CLIENT_ID": "", "BC_CLIENT_SECRET": ""}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert "error: cannot import no_such_app_module" in result.output
    assert not embedded.is_running(instance)
