"""`bcapp new`: a project outside the checkout, with bcapp installed as a package, whose own
tests (written with bcapp's test kit) pass as generated, with no PYTHONPATH.

The virtualenv is new and bcapp is built from a copy of this checkout and installed into it
as a wheel, as `pip install <checkout>` does; bcapp's dependencies come from this suite's
environment (a `.pth` line) instead of the package registry, to keep the test to seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from bcapp.cli import main

CHECKOUT = Path(__file__).resolve().parent.parent
SKIPPED = shutil.ignore_patterns(
    ".venv", ".git", "*.egg-info", "build", "__pycache__", ".*_cache", "instance", "node_modules"
)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`command` in `cwd` with no PYTHONPATH (the project must not need one)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_a_new_project_outside_the_checkout_passes_its_own_tests(tmp_path: Path) -> None:
    source = tmp_path / "bcapp-source"
    shutil.copytree(CHECKOUT, source, ignore=SKIPPED)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               tmp_path).stdout.strip()
    (Path(site) / "suite-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-build-isolation", str(source)],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stderr
    where = run([str(python), "-c", "import bcapp; print(bcapp.__file__)"], tmp_path).stdout
    assert where.startswith(site), f"bcapp is imported from the new virtualenv, not {where}"

    created = run([str(venv / "bin" / "bcapp"), "new", "shop"], tmp_path)
    assert created.returncode == 0, created.stderr
    shop = tmp_path / "shop"
    readme = (shop / "README.md").read_text()
    assert "python -m pytest" in readme and "bcapp dev" in readme

    tested = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], shop)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "5 passed" in tested.stdout

    scopes = run([str(venv / "bin" / "bcapp"), "scopes"], shop)
    assert scopes.stdout.splitlines() == [
        "store_app_extensions_manage",  # implied by shop/extensions.py
        "store_v2_information_read_only",  # bcapp's own
        "store_v2_orders_read_only",  # declared by shop/pages.py
    ]


def test_new_refuses_a_name_python_cannot_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["new", "my-shop"])
    assert result.exit_code == 1
    assert "'my-shop' cannot name a Python package" in result.output
    assert not (tmp_path / "my-shop").exists()


def test_new_never_writes_into_a_directory_with_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["new", "shop"])
    assert result.exit_code == 1
    assert "exists and is not empty: nothing was written" in result.output
    assert [path.name for path in (tmp_path / "shop").iterdir()] == ["notes.txt"]


def test_new_writes_every_template_with_the_package_name(tmp_path: Path) -> None:
    from bcapp.cli.new import write_project

    written = write_project(tmp_path / "acme", "acme")
    names = {str(path.relative_to(tmp_path / "acme")) for path in written}
    assert {".env", ".env.example", ".gitignore", "Procfile", "pyproject.toml", "README.md",
            "acme/__init__.py", "acme/pages.py", "acme/events.py", "acme/extensions.py",
            "acme/templates/acme/home.html"} <= names
    assert list((tmp_path / "acme" / "tests").glob("test_*.py")), "tests written with the kit"
    for path in written:
        assert "__package__" not in path.read_text(), path
    procfile = (tmp_path / "acme/Procfile").read_text()
    assert "web: gunicorn -c python:bcapp.gunicorn acme:app" in procfile
