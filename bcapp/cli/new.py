"""`bcapp new DIR`: a project of the developer's own, depending on bcapp, ready to run and test."""

from __future__ import annotations

import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from bcapp.cli.common import fail
from bcapp.envvars import installed_version

PLACEHOLDER = "__package__"
# Template names whose project file starts with a dot (a dot file is easy to lose in a wheel).
DOT_FILES = {"env": ".env", "env.example": ".env.example", "gitignore": ".gitignore"}
_PACKAGE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@click.command("new")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def new_command(directory: Path) -> None:
    """Write a new app in DIRECTORY (its name is the app's package name): a Flask app calling
    init_app, a page, a webhook handler, an App Extension, declared scopes, tests written with
    bcapp's test kit, .env, a Procfile and a README saying how to run and test it."""
    name = directory.resolve().name
    if not _PACKAGE_NAME.fullmatch(name) or keyword.iskeyword(name):
        fail(
            f"{name!r} cannot name a Python package: use lowercase letters, digits and "
            "underscores, starting with a letter (e.g. bcapp new my_shop)"
        )
    if directory.exists() and any(directory.iterdir()):
        fail(f"{directory} exists and is not empty: nothing was written")
    written = write_project(directory, name)
    for path in written:
        click.echo(f"  wrote {path}")
    click.echo(
        f"\nNext: cd {directory} && pip install -e '.[test]' (into this environment, which has "
        "bcapp);\n      then `bcapp dev` runs it and `python -m pytest` tests it."
    )


def write_project(directory: Path, name: str) -> list[Path]:
    """Write the scaffold's files for package `name` under `directory`; the paths written."""
    version = installed_version()  # the new project asks for at least this bcapp
    written: list[Path] = []
    for source, relative in _templates(resources.files("bcapp.scaffold"), Path()):
        target = directory / Path(*(name if part == "package" else part for part in relative.parts))
        target = target.with_name(DOT_FILES.get(target.name, target.name))
        text = source.read_text(encoding="utf-8")
        text = text.replace(PLACEHOLDER, name).replace("__bcapp_version__", version)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def _templates(folder: Traversable, relative: Path) -> list[tuple[Traversable, Path]]:
    """Every `.tmpl` file under `folder`, with its path in the project (`.tmpl` removed)."""
    found: list[tuple[Traversable, Path]] = []
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.is_dir() and entry.name != "__pycache__":
            found.extend(_templates(entry, relative / entry.name))
        elif entry.name.endswith(".tmpl"):
            found.append((entry, relative / entry.name.removesuffix(".tmpl")))
    return found
