"""The architecture diagram names every part of bcapp: a module or package added without it
fails here.

docs/architecture.md's mermaid diagram must name every top-level module of bcapp/ (`name.py`,
outside the subgraphs of bcapp's packages, so bcapp/service/webhooks.py does not stand in for
bcapp/webhooks.py), every package (`bcapp/name/`), every module of bcapp/service/ (`name.py`
inside the `bcapp/service/` subgraph) and every service the composition root builds
(`.name`, a cached property of bcapp/service/wiring.py's `Bcapp`). The check reads a copy of
the package with a planted module too: the control that shows it can fail.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from tests.servers import REPO

ARCHITECTURE = REPO / "docs/architecture.md"
PACKAGE_TITLE = re.compile(r"bcapp/(\w+)/")
PLANTED = "planted"  # the planted names are built from it, so no file of the repository cites them


def diagram(text: str) -> str:
    """The first mermaid block of a document."""
    return text.split("```mermaid", 1)[1].split("```", 1)[0]


def sections(mermaid: str) -> tuple[str, dict[str, str]]:
    """The diagram's text outside bcapp's package subgraphs, and each package subgraph's text
    (its title included) by package name."""
    outside: list[str] = []
    inside: dict[str, list[str]] = {}
    stack: list[str | None] = []  # the package of each open subgraph (None: not a package's)
    for line in mermaid.splitlines():
        words = line.split()
        if words[:1] == ["subgraph"]:
            titled = PACKAGE_TITLE.search(line)
            stack.append(titled.group(1) if titled else None)
        elif words == ["end"] and stack:
            stack.pop()
            continue
        package = next((name for name in reversed(stack) if name is not None), None)
        if package is None:
            outside.append(line)
        else:
            inside.setdefault(package, []).append(line)
    return "\n".join(outside), {name: "\n".join(lines) for name, lines in inside.items()}


def names_file(text: str, filename: str) -> bool:
    """Whether `text` names `filename` as a whole (`tasks.py`, not `dev_tasks.py` or
    `service/tasks.py`)."""
    return re.search(rf"(?<![\w./]){re.escape(filename)}(?![\w])", text) is not None


def bcapp_services(wiring: Path) -> list[str]:
    """The services `Bcapp` builds: its cached properties."""
    tree = ast.parse(wiring.read_text())
    root = next(
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Bcapp"
    )
    return [
        item.name
        for item in root.body
        if isinstance(item, ast.FunctionDef)
        and any(ast.unparse(decorator) == "cached_property" for decorator in item.decorator_list)
    ]


def undrawn(package: Path, document: str) -> list[str]:
    """What of `package` (a bcapp tree) the document's diagram does not name."""
    mermaid = diagram(document)
    outside, inside = sections(mermaid)
    missing = []
    for path in sorted(package.iterdir()):
        if path.suffix == ".py" and not names_file(outside, path.name):
            missing.append(f"bcapp/{path.name}")
        elif (path / "__init__.py").is_file() and f"bcapp/{path.name}/" not in mermaid:
            missing.append(f"bcapp/{path.name}/")
    service = inside.get("service", "")
    for path in sorted((package / "service").glob("*.py")):
        if path.name != "__init__.py" and not names_file(service, path.name):
            missing.append(f"bcapp/service/{path.name}")
    for name in bcapp_services(package / "service" / "wiring.py"):
        if not re.search(rf"\.{name}(?![\w])", mermaid):
            missing.append(f"Bcapp.{name}")
    return missing


@pytest.fixture
def copied_package(tmp_path: Path) -> Path:
    """A copy of bcapp's sources, to plant modules in (the checkout is never touched)."""
    copy = tmp_path / "bcapp"
    shutil.copytree(REPO / "bcapp", copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_diagram_names_every_module_package_and_service() -> None:
    assert undrawn(REPO / "bcapp", ARCHITECTURE.read_text()) == []


def test_the_check_reads_the_real_package() -> None:
    """The lists it compares are bcapp's own, not empty ones that pass whatever is drawn."""
    mermaid = diagram(ARCHITECTURE.read_text())
    outside, inside = sections(mermaid)
    assert names_file(outside, "worker.py") and names_file(outside, "broker.py")
    assert names_file(inside["service"], "tasks.py")
    assert not names_file(outside, "loading.py"), "service modules are not top-level ones"
    assert {"callbacks", "tasks", "dead_letters"} <= set(
        bcapp_services(REPO / "bcapp" / "service" / "wiring.py")
    )


@pytest.mark.parametrize(
    ("planted", "reported"),
    [
        (f"{PLANTED}_module.py", f"bcapp/{PLANTED}_module.py"),
        (f"{PLANTED}_package/__init__.py", f"bcapp/{PLANTED}_package/"),
        (f"service/{PLANTED}_rules.py", f"bcapp/service/{PLANTED}_rules.py"),
    ],
)
def test_a_planted_module_missing_from_the_diagram_fails(
    copied_package: Path, planted: str, reported: str
) -> None:
    document = ARCHITECTURE.read_text()
    assert undrawn(copied_package, document) == [], "the copy is drawn as the package is"
    target = copied_package / planted
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text('"""Planted by a test: drawn nowhere."""\n')
    assert undrawn(copied_package, document) == [reported]


def test_a_top_level_module_drawn_only_inside_a_package_fails(copied_package: Path) -> None:
    """bcapp/webhooks.py is not drawn by bcapp/service/webhooks.py's name in the service box."""
    document = ARCHITECTURE.read_text().replace("webhooks.py, signals.py", "signals.py")
    assert "bcapp/webhooks.py" in undrawn(copied_package, document)


def test_a_service_missing_from_the_composition_root_node_fails(copied_package: Path) -> None:
    wiring = copied_package / "service" / "wiring.py"
    source = wiring.read_text().replace(
        "    def close(self)",
        "    @cached_property\n    def planted(self) -> int:\n        return 1\n\n"
        "    def close(self)",
    )
    wiring.write_text(source)
    assert undrawn(copied_package, ARCHITECTURE.read_text()) == ["Bcapp.planted"]
