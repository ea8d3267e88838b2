"""Imports point one way: bot -> coupons, segmentation -> data; Flask stays in bot.

The LINE emulator is a package of its own: it imports nothing from the product, and the
product imports it only where the development composition (`fanbot run`) mounts it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "data": {"bot", "coupons", "segmentation", "flask"},
    "segmentation": {"bot", "coupons", "flask"},
    "coupons": {"bot", "segmentation", "flask"},
    "line_emulator": {"bot", "coupons", "segmentation", "data", "migrations", "tests"},
}
PRODUCT = ("bot", "coupons", "segmentation", "data", "migrations")
# The one place the product may import the emulator: the development composition.
MOUNTS_EMULATOR = {"bot/commands/run.py"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_upper_ones(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_product_imports_the_emulator_only_where_make_run_mounts_it() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if "line_emulator" in imported_packages(path)
    }
    assert importers == MOUNTS_EMULATOR


def test_commands_never_import_the_cli_that_imports_them() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot" / "commands").rglob("*.py")
        if "bot.cli" in imported_modules(path)
    }
    assert importers == set()


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_conversation_code_leaves_sql_to_the_data_layer() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot" / "conversation").rglob("*.py")
        if "sqlalchemy" in imported_packages(path)
    }
    assert importers == set()
