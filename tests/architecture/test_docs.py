"""The project's own documents exist, and every file or test they or the code cite is real."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.servers import REPO

DOCS = [
    "README.md",
    "docs/architecture.md",
    "docs/security.md",
    "docs/protocol.md",
    "docs/building.md",
    "docs/cli.md",
    "docs/configuration.md",
    "docs/contributing.md",
    "docs/how-it-works.md",
]
LAYOUT_DOC = "docs/how-it-works.md"  # its "Redis layout" table is bcapp/store/keys.py's KINDS
# `owner/repo:path` cites a file of another repository and is not checked here.
CITED_FILE = re.compile(r"(?<![\w/.:-])((?:[\w-]+/)*[\w.-]+\.(?:md|py|toml))(?![\w])(?:::(\w+))?")
PACKAGE_FOLDERS = [path.name for path in (REPO / "bcapp").iterdir() if path.is_dir()]
LOCAL_ROOTS = ("bcapp", "tests", "docs", "benchmarks", "templates", "examples", *PACKAGE_FOLDERS)
SOURCES = [
    *sorted((REPO / "bcapp").rglob("*.py")),
    *sorted((REPO / "tests").rglob("*.py")),
    *sorted((REPO / "benchmarks").rglob("*.py")),
    REPO / "wsgi.py",
    REPO / "gunicorn.conf.py",
    REPO / "pyproject.toml",
    REPO / "Makefile",
]


def is_local(cited: str) -> bool:
    """Whether a citation names this repository's file (not a path in a cited upstream repo)."""
    if "/" not in cited:
        return cited.endswith(".md") or (REPO / cited).exists()
    return cited.split("/", 1)[0] in LOCAL_ROOTS


def resolves(cited: str) -> bool:
    """A cited local path exists from the top of the repository or of the package."""
    return (REPO / cited).exists() or (REPO / "bcapp" / cited).exists()


def defines(path: Path, name: str) -> bool:
    """True when the module at `path` defines a function or class `name` at any depth."""
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name
        for node in ast.walk(tree)
    )


@pytest.mark.parametrize("doc", DOCS)
def test_every_document_exists_and_cites_real_files_and_tests(doc: str) -> None:
    text = (REPO / doc).read_text()
    assert len(text) > 2000, f"{doc} says something"
    for cited, name in CITED_FILE.findall(text):
        if not is_local(cited):
            continue
        assert resolves(cited), f"{doc} cites {cited}, which the repository lacks"
        if name:
            target = REPO / cited if (REPO / cited).exists() else REPO / "bcapp" / cited
            assert defines(target, name), f"{doc} cites {cited}::{name}, which is not there"


def test_security_rules_each_name_a_test() -> None:
    text = (REPO / "docs/security.md").read_text()
    rules = re.split(r"\n### ", text)[1:]
    assert len(rules) >= 10
    for rule in rules:
        assert "tests/" in rule, f"rule {rule.splitlines()[0]!r} names no test"


def test_architecture_has_a_mermaid_diagram() -> None:
    assert "```mermaid" in (REPO / "docs/architecture.md").read_text()


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(REPO)))
def test_code_cites_only_files_the_repository_has(source: Path) -> None:
    missing = [
        cited
        for cited, _ in CITED_FILE.findall(source.read_text())
        if is_local(cited) and not resolves(cited)
    ]
    assert missing == [], f"{source.name} cites files outside the repository"


def test_the_documented_redis_layout_is_the_key_registry() -> None:
    """Every key kind of bcapp/store/keys.py is a row of the layout table, with its rule."""
    from bcapp.store.keys import KINDS

    text = (REPO / LAYOUT_DOC).read_text()
    layout = text.split("## Redis layout", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in layout.splitlines() if line.startswith("| `")]
    expected = [
        f"| `{kind.name}{':<id>' if kind.per_id else ''}` | {kind.holds} | {kind.ttl} |"
        for kind in KINDS
    ]
    assert rows == expected
