"""The package's shape, checked: SQL only in ``store/``, dependencies pointing down, a sandbox that
shares no code with what it fakes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sync_pipeline"

# A statement, not prose: the keywords (upper case, as this project writes SQL) with what makes it SQL.
SQL = re.compile(
    r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|"
    r"\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|SCHEMA|SEQUENCE)\b"
)

# Each layer may import from the layers listed (and from itself); ``None`` means anything.
LOWER = {"settings", "errors", "records"}
ALLOWED: dict[str, set[str] | None] = {
    "settings": set(),
    "errors": set(),
    "records": set(),
    "store": LOWER,
    "transport": LOWER | {"store"},
    "providers": LOWER | {"store", "transport"},
    "sandbox": set(),
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _imported_layers(path: Path, tree: ast.AST) -> set[str]:
    """The top-level parts of ``sync_pipeline`` that ``path`` imports."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    layers = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1]) + (node.module or "").split(".")
            else:
                base = (node.module or "").split(".")
            parts = [p for p in base if p]
            if parts[:1] == ["sync_pipeline"]:
                if len(parts) > 1:
                    layers.add(parts[1])
                else:  # from sync_pipeline import x
                    layers.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sync_pipeline" and len(parts) > 1:
                    layers.add(parts[1])
    return layers


def test_sql_statements_live_only_in_the_store() -> None:
    offenders = []
    for path in _modules():
        if _layer(path) == "store":
            continue
        tree = ast.parse(path.read_text())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            if is_text and SQL.search(node.value):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value.strip()[:60]!r}")
    assert offenders == [], "SQL outside sync_pipeline/store/:\n" + "\n".join(offenders)


def test_the_sql_detector_finds_statements() -> None:
    assert SQL.search("SELECT count(*) FROM contacts WHERE id = :id")
    assert SQL.search("UPDATE outbox SET status = 'dead'")
    assert not SQL.search("select a provider from the registry")
    assert not SQL.search("DELETE")  # an HTTP method


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_import_only_what_lies_below(layer: str) -> None:
    allowed = ALLOWED[layer]
    offenders = []
    for path in _modules():
        if _layer(path) != layer:
            continue
        wrong = _imported_layers(path, ast.parse(path.read_text())) - {layer} - (allowed or set())
        if wrong:
            offenders.append(f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}")
    assert offenders == [], "\n".join(offenders)
