"""Target rules: which fans a campaign is for, written against the survey catalog.

A rule is plain JSON so it can live in the campaign row and come from a web form::

    {"all": [{"item": "likes_super_sento", "op": "=", "value": 1},
             {"item": "live_games_per_year", "op": ">=", "value": 3}],
     "lookalike": {"item": "likes_super_sento", "min_score": 0.6}}

Every condition must hold (a fan who did not answer an item does not match it). The
optional lookalike part also admits fans whose stored lookalike score for ``item`` is at
least ``min_score`` — fans who never answered the partner's own question but whose other
answers predict it. :func:`parse_rule` validates a rule against the catalog and refuses it
with a Japanese message naming the item or value at fault.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from data.catalog import Catalog

__all__ = ["COMPARE", "OPERATORS", "Condition", "LookalikePart", "RuleError", "TargetRule", "parse_rule"]

# One table of comparisons, used on answers in Python and on the answers column in SQL.
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
OPERATORS = tuple(COMPARE)


class RuleError(ValueError):
    """A rule that cannot be used; the message is Japanese, for the marketer."""


@dataclass(frozen=True)
class Condition:
    item: str
    op: str
    value: float

    def holds(self, answer: float) -> bool:
        """Whether an answer satisfies this condition."""
        return bool(COMPARE[self.op](answer, self.value))


@dataclass(frozen=True)
class LookalikePart:
    item: str
    min_score: float


@dataclass(frozen=True)
class TargetRule:
    conditions: tuple[Condition, ...]
    lookalike: LookalikePart | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "all": [{"item": c.item, "op": c.op, "value": c.value} for c in self.conditions]
        }
        if self.lookalike is not None:
            data["lookalike"] = {"item": self.lookalike.item, "min_score": self.lookalike.min_score}
        return data


def parse_rule(data: Any, catalog: Catalog) -> TargetRule:
    """Validate ``data`` (a rule as JSON) against ``catalog``.

    Raises
    ------
    RuleError
        For a malformed rule, an unknown item, an unknown operator, or a value the item's
        answers can never take (a yes/no item compared with 2, a count beyond its maximum).
    """
    if not isinstance(data, dict):
        raise RuleError("条件の形式が正しくありません。")
    raw_conditions = data.get("all", [])
    if not isinstance(raw_conditions, list):
        raise RuleError("条件の形式が正しくありません（all は一覧にしてください）。")
    conditions = tuple(_condition(raw, catalog) for raw in raw_conditions)
    lookalike = _lookalike(data.get("lookalike"), catalog)
    return TargetRule(conditions, lookalike)


def _condition(raw: Any, catalog: Catalog) -> Condition:
    if not isinstance(raw, dict):
        raise RuleError("条件の形式が正しくありません。")
    item_id = str(raw.get("item", ""))
    item = catalog.get(item_id)
    if item is None:
        raise RuleError(f"「{item_id}」はアンケートの項目にありません。")
    op = str(raw.get("op", ""))
    if op not in OPERATORS:
        choices = "、".join(OPERATORS)
        raise RuleError(f"「{item.text_ja}」の比べ方「{op}」は使えません（{choices} のいずれか）。")
    try:
        value = float(raw["value"])
    except (KeyError, TypeError, ValueError):
        raise RuleError(f"「{item.text_ja}」の値「{raw.get('value')}」は数値ではありません。") from None
    possible = [0.0, 1.0] if item.is_yes_no else [0.0, float(item.max or 0)]
    low, high = possible[0], possible[-1]
    condition = Condition(item_id, op, value)
    # A condition no answer could ever meet is a mistake, not an empty audience.
    candidates = [low, high] if item.is_yes_no else [low, high, min(max(value, low), high)]
    if not any(condition.holds(answer) for answer in candidates) or (
        item.is_yes_no and op in ("=", "!=") and value not in (0.0, 1.0)
    ):
        shown = "はい(1)/いいえ(0)" if item.is_yes_no else f"0〜{int(high)}"
        raise RuleError(
            f"「{item.text_ja}」{op} {value:g} に当てはまる回答はありえません（回答は {shown}）。"
        )
    return condition


def _lookalike(raw: Any, catalog: Catalog) -> LookalikePart | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RuleError("似たファンの条件の形式が正しくありません。")
    item_id = str(raw.get("item", ""))
    item = catalog.get(item_id)
    if item is None:
        raise RuleError(f"「{item_id}」はアンケートの項目にありません。")
    if not item.is_yes_no:
        raise RuleError(
            f"「{item.text_ja}」は「はい/いいえ」の項目ではないため、似たファンのスコアがありません。"
        )
    try:
        score = float(raw["min_score"])
    except (KeyError, TypeError, ValueError):
        raise RuleError("似たファンのスコアの下限は 0〜1 の数値にしてください。") from None
    if not 0.0 <= score <= 1.0:
        raise RuleError(f"似たファンのスコアの下限 {score:g} は 0〜1 の範囲外です。")
    return LookalikePart(item_id, score)
