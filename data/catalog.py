"""The survey item catalog (`questions.csv`): loading and validation.

The catalog is the contract for every answer the product stores: an answer is
valid only if its item exists here and its value fits the item's type and range.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from data.units import UNITS as UNIT_TABLE

AnswerType = Literal["yes_no", "count"]
ANSWER_TYPES: tuple[AnswerType, ...] = ("yes_no", "count")
UNITS = tuple(UNIT_TABLE)
# How a fan or marketer reads each catalog category (「回答変更」 lists answers by these).
CATEGORY_LABELS: dict[str, str] = {
    "sports_interest": "スポーツへの関心",
    "spectating": "スポーツ観戦",
    "fandom_media": "ファン活動",
    "exercise": "運動・部活動",
    "digital_media": "SNS・アプリ",
    "entertainment": "趣味・エンタメ",
    "food_drink": "食事・お酒",
    "leisure_outdoor": "レジャー・お出かけ",
    "shopping_payment": "買い物・支払い",
    "lifestyle_values": "暮らし・考え方",
    "pets": "ペット",
}
COLUMNS = ("id", "category", "sports_related", "text_ja", "text_en", "answer_type", "unit", "max")


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the row."""


@dataclass(frozen=True)
class Item:
    id: str
    category: str
    sports_related: bool
    text_ja: str
    text_en: str
    answer_type: AnswerType
    unit: str | None
    max: float | None

    @property
    def is_yes_no(self) -> bool:
        return self.answer_type == "yes_no"

    def accepts(self, value: float) -> bool:
        """Whether ``value`` is a valid answer to this item."""
        if math.isnan(value):
            return False
        if self.is_yes_no:
            return value in (0, 1)
        assert self.max is not None
        return 0 <= value <= self.max and float(value).is_integer()


class Catalog:
    """Items by id, in catalog order (``.items`` is the ordered list).

    ``wording`` maps an item id to its short table label and the phrase a report sentence
    uses (see ``item_wording.csv``); items without one fall back to the question text.
    """

    def __init__(self, items: list[Item], wording: dict[str, tuple[str, str]] | None = None) -> None:
        self.items = items
        self._by_id = {item.id: item for item in items}
        self._wording = wording or {}

    def __getitem__(self, item_id: str) -> Item:
        return self._by_id[item_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def get(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)

    def values(self) -> list[Item]:
        return list(self.items)

    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def labels(self) -> dict[str, str]:
        """Short labels for tables, charts and axes (the question text when there is none)."""
        return {item.id: self._wording.get(item.id, (item.text_ja, item.text_ja))[0] for item in self.items}

    @property
    def phrases(self) -> dict[str, str]:
        """What a report sentence calls each item: a statement for yes/no items ("スーパー銭湯に
        よく行く"), a noun phrase for counts ("試合を現地で観る回数")."""
        return {item.id: self._wording.get(item.id, (item.text_ja, item.text_ja))[1] for item in self.items}

    @property
    def sports_ids(self) -> set[str]:
        return {item.id for item in self.items if item.sports_related}


def default_catalog_path() -> Path:
    return Path(str(resources.files("data").joinpath("questions.csv")))


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog CSV; raise `CatalogError` naming the bad row."""
    path = path or default_catalog_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CatalogError(f"cannot read item catalog {path}: {exc}") from exc
    catalog = parse_catalog(text, source=str(path))
    wording_path = path.with_name(WORDING_FILE)
    if wording_path.exists():
        catalog = Catalog(catalog.items, load_wording(wording_path, catalog.items))
    return catalog


def parse_catalog(text: str, source: str = "catalog") -> Catalog:
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        raise CatalogError(f"{source}: header must be {','.join(COLUMNS)}, got {','.join(header)}")
    items: list[Item] = []
    seen: set[str] = set()
    # Row 1 is the header, so data rows start at line 2 as a spreadsheet shows them.
    for line_no, row in enumerate(reader, start=2):
        items.append(_parse_row(row, line_no, source, seen))
    if not items:
        raise CatalogError(f"{source}: the catalog has no items")
    return Catalog(items)


WORDING_FILE = "item_wording.csv"


def load_wording(path: Path, items: list[Item]) -> dict[str, tuple[str, str]]:
    """Read the labels and sentence phrases kept beside the catalog, one row per item.

    The question texts stay as the source survey wrote them (``questions.csv`` is the
    source's catalog, byte for byte); this file holds the wording for tables and reports.
    Raises `CatalogError` for an unknown or missing id or a blank cell, naming the row.
    """
    wording: dict[str, tuple[str, str]] = {}
    known = {item.id for item in items}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            item_id, label, phrase = (row.get(k, "") or "" for k in ("id", "label", "phrase"))
            if item_id not in known:
                raise CatalogError(f"{path.name} row {number}: unknown item id {item_id!r}")
            if not label.strip() or not phrase.strip():
                raise CatalogError(f"{path.name} row {number}: label and phrase must not be empty")
            wording[item_id] = (label.strip(), phrase.strip())
    missing = known - set(wording)
    if missing:
        raise CatalogError(f"{path.name}: no wording for {', '.join(sorted(missing))}")
    return wording


def _parse_row(row: dict[str, str], line_no: int, source: str, seen: set[str]) -> Item:
    def fail(message: str) -> CatalogError:
        return CatalogError(f"{source} row {line_no}: {message}")

    if None in row or any(value is None for value in row.values()):
        raise fail("wrong number of columns")
    item_id = row["id"].strip()
    if (
        not item_id
        or not item_id.isascii()
        or not item_id.replace("_", "").isalnum()
        or item_id != item_id.lower()
    ):
        raise fail(f"id {item_id!r} is not a snake_case ASCII key")
    if item_id in seen:
        raise fail(f"duplicate id {item_id!r}")
    seen.add(item_id)
    if row["sports_related"] not in ("0", "1"):
        raise fail(f"sports_related must be 0 or 1, got {row['sports_related']!r}")
    if not row["text_ja"].strip():
        raise fail("text_ja is empty")
    answer_type = row["answer_type"]
    if answer_type not in ANSWER_TYPES:
        raise fail(f"answer_type must be yes_no or count, got {answer_type!r}")
    unit: str | None = row["unit"] or None
    maximum: float | None = None
    if answer_type == "count":
        if unit not in UNITS:
            raise fail(f"count item needs a unit from {', '.join(UNITS)}, got {unit!r}")
        try:
            maximum = float(row["max"])
        except ValueError:
            raise fail(f"count item needs a numeric max, got {row['max']!r}") from None
        if maximum <= 0:
            raise fail(f"max must be positive, got {row['max']!r}")
    elif unit or row["max"]:
        raise fail("yes_no items take no unit or max")
    return Item(
        id=item_id,
        category=row["category"].strip(),
        sports_related=row["sports_related"] == "1",
        text_ja=row["text_ja"].strip(),
        text_en=row["text_en"].strip(),
        answer_type=answer_type,
        unit=unit,
        max=maximum,
    )
