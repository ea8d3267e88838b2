"""EmulatorState keeps its promise: every change goes through its own methods, under its lock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from line_emulator.state import EmulatorState, RichMenu

PACKAGE = Path(__file__).resolve().parents[2] / "line_emulator"
MUTATING_METHODS = {"append", "extend", "insert", "pop", "popleft", "remove", "clear", "update"} | {
    "setdefault",
    "add",
    "discard",
}


def _is_state(node: ast.expr) -> bool:
    """``state``, ``self._state`` or ``_state()``: the ways the other modules reach the state."""
    if isinstance(node, ast.Name):
        return node.id == "state"
    if isinstance(node, ast.Attribute):
        return node.attr == "_state" and isinstance(node.value, ast.Name) and node.value.id == "self"
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "_state"
    return False


def _reaches_into_state(node: ast.expr) -> bool:
    """An attribute or item of the state (or of something inside it)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        if _is_state(node.value):
            return True
        node = node.value
    return False


def direct_changes(source: str) -> list[int]:
    tree = ast.parse(source)
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATING_METHODS
            and _reaches_into_state(node.func.value)
        ):
            lines.append(node.lineno)
        flat = [t for target in targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
        lines.extend(t.lineno for t in flat if _reaches_into_state(t))
    return sorted(lines)


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "state.py"))
def test_no_module_changes_the_state_behind_its_methods(module: str) -> None:
    assert direct_changes((PACKAGE / module).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "line",
    [
        "state.default_rich_menu_id = None",
        "state.rich_menus[menu_id] = menu",
        "_state().user_rich_menus.pop(user_id, None)",
        "menu.image, state.rich_menus['x'].image_content_type = data, kind",
        "del self._state.users[user_id]",
        "state.total_usage += 1",
    ],
)
def test_the_check_sees_each_kind_of_direct_change(line: str) -> None:
    assert direct_changes(line) == [1]


def test_reads_are_not_changes() -> None:
    assert direct_changes("menu = state.rich_menus.get(menu_id)\nx = _state().get_user(u)") == []


def menu(state: EmulatorState, image: bytes | None = None) -> str:
    rich_menu = RichMenu(rich_menu_id=f"richmenu-{len(state.rich_menus)}", body={})
    state.add_rich_menu(rich_menu)
    if image is not None:
        assert state.set_rich_menu_image(rich_menu.rich_menu_id, image, "image/png") is None
    return rich_menu.rich_menu_id


def test_an_image_is_attached_once() -> None:
    state = EmulatorState()
    menu_id = menu(state, b"png")

    assert state.set_rich_menu_image(menu_id, b"other", "image/png") == "has_image"
    assert state.set_rich_menu_image("richmenu-none", b"png", "image/png") == "not_found"
    stored = state.get_rich_menu(menu_id)
    assert stored is not None and stored.image == b"png"


def test_default_and_linked_menus_need_an_image_and_a_known_fan() -> None:
    state = EmulatorState()
    bare, ready = menu(state), menu(state, b"png")
    fan = state.create_user("a").user_id

    assert state.set_default_rich_menu(bare) == "no_image"
    assert state.set_default_rich_menu("richmenu-none") == "not_found"
    assert state.default_rich_menu_id is None
    assert state.link_rich_menu("U" + "0" * 32, ready) == "unknown_user"
    assert state.link_rich_menu(fan, bare) == "no_image"
    assert state.linked_rich_menu_id(fan) is None

    def menus() -> tuple[str | None, str | None]:
        return state.default_rich_menu_id, state.linked_rich_menu_id(fan)

    assert state.set_default_rich_menu(ready) is None
    assert state.link_rich_menu(fan, ready) is None
    assert menus() == (ready, ready)
    state.unlink_rich_menu(fan)
    state.clear_default_rich_menu()
    assert menus() == (None, None)
