"""The layer contracts in pyproject.toml hold, and a planted forbidden import breaks them.

Each case copies the package to a temporary folder, plants one import, and runs import-linter
on the copy (PYTHONPATH puts the copy ahead of the editable install); a clean copy is the
control that shows the harness itself passes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.servers import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PLANTS = {
    "flask below the web layer": ("bcapp/store/records.py", "import flask", "flask"),
    "the simulator using the app's scopes": (
        "bcapp/simulator/driver.py",
        "from bcapp.scopes import ScopeSet",
        "bcapp.scopes",
    ),
    "a view reaching Redis": ("bcapp/web/health.py", "import bcapp.store.connection", "store"),
    "the service importing the web layer": (
        "bcapp/service/access.py",
        "import bcapp.web.context",
        "bcapp.web",
    ),
    "the store importing the simulator": (
        "bcapp/store/ephemeral.py",
        "import bcapp.simulator.state",
        "bcapp.simulator",
    ),
}


def lint_copy(tmp_path: Path, plant: tuple[str, str] | None) -> subprocess.CompletedProcess[str]:
    """Run import-linter on a copy of the package, with `plant` = (file, import line) added."""
    skip_caches = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "bcapp", tmp_path / "bcapp", ignore=skip_caches)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    if plant is not None:
        path, line = plant
        target = tmp_path / path
        target.write_text(target.read_text() + f"\n{line}  # planted by the test\n")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", "pyproject.toml"],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_hold_on_a_clean_copy(tmp_path: Path) -> None:
    result = lint_copy(tmp_path, None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("name", PLANTS)
def test_a_planted_forbidden_import_fails_the_run(tmp_path: Path, name: str) -> None:
    path, line, named = PLANTS[name]
    result = lint_copy(tmp_path, (path, line))
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and named in result.stdout


# About 300 lines is where a module is worth a second look (a smell, reported as a warning,
# never a reason to split by line count); past 400 it holds more than one responsibility.
SMELL_LINES, LIMIT_LINES = 300, 400


@pytest.mark.filterwarnings("default::UserWarning")  # shown in the summary, not an error
def test_no_module_of_bcapp_holds_several_responsibilities_by_its_length() -> None:
    sizes = {
        str(path.relative_to(REPO)): len(path.read_text().splitlines())
        for path in (REPO / "bcapp").rglob("*.py")
    }
    for path, lines in sorted(sizes.items()):
        if SMELL_LINES < lines <= LIMIT_LINES:
            warnings.warn(f"{path} has {lines} lines: worth a look", stacklevel=1)
    assert {path: lines for path, lines in sizes.items() if lines > LIMIT_LINES} == {}


def test_the_public_api_imports_as_the_contract_writes_it_and_a_worker_never_loads_flask() -> None:
    """`from bcapp import …` as the README writes it; the worker's names load no Flask."""
    import subprocess
    import sys

    worker_side = (
        "import sys; from bcapp import connect, signals, StoreClient, webhooks, extensions; "
        "print('flask' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", worker_side], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "False"
    everything = (
        "from bcapp import app_page, AppContext, connect, signals, StoreClient, webhooks, "
        "extensions; print(webhooks.on, extensions.add, StoreClient.graphql)"
    )
    subprocess.run([sys.executable, "-c", everything], check=True, capture_output=True)
