"""Store interfaces a page long: no store protocol over five methods, no collaborator read by index.

The protocols of bcapp/store are parsed, not imported, so a protocol added in any module of the
package is counted; each rule is also run on a planted source, the control that shows the rule
can fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.servers import REPO

MOST_METHODS = 5
READ_BY_INDEX = re.compile(r"_stores\[")


def protocol_sizes(source: str) -> dict[str, int]:
    """Each Protocol class of a module's source, with how many methods it declares."""
    sizes = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and any(
            (isinstance(base, ast.Name) and base.id == "Protocol")
            or (isinstance(base, ast.Attribute) and base.attr == "Protocol")
            for base in node.bases
        ):
            methods = [
                item
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            sizes[node.name] = len(methods)
    return sizes


def store_protocols() -> dict[str, int]:
    """Every protocol of bcapp/store, by module and name."""
    found = {}
    for path in sorted((REPO / "bcapp" / "store").rglob("*.py")):
        for name, size in protocol_sizes(path.read_text()).items():
            found[f"{path.relative_to(REPO)}::{name}"] = size
    return found


def read_by_index(root: Path) -> list[str]:
    """Lines of the package that read collaborators out of a tuple by position."""
    return [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if READ_BY_INDEX.search(line)
    ]


def test_no_store_protocol_has_more_than_five_methods() -> None:
    protocols = store_protocols()
    assert "bcapp/store/__init__.py::ReplayGuards" in protocols, "the parser finds protocols"
    assert {name: size for name, size in protocols.items() if size > MOST_METHODS} == {}


def test_a_planted_six_method_protocol_is_counted() -> None:
    methods = "".join(f"    def m{n}(self) -> None: ...\n" for n in range(6))
    planted = f"from typing import Protocol\n\nclass Everything(Protocol):\n{methods}"
    assert protocol_sizes(planted) == {"Everything": 6}


def test_no_service_reads_its_stores_by_index(tmp_path: Path) -> None:
    assert read_by_index(REPO / "bcapp") == []
    planted = tmp_path / "bcapp" / "service" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("def f(self):\n    return self._stores[1]\n")
    assert read_by_index(tmp_path / "bcapp") == [f"{planted.relative_to(tmp_path / 'bcapp')}:2"]
