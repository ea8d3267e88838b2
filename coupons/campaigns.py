"""Creating campaigns and moving them between states.

Public functions: :func:`create_campaign`, :func:`update_campaign`, :func:`set_state`.

A campaign's rule is validated against the catalog when it is created (``coupons.rules``),
so a stored rule always names real items and possible values. State changes are one
conditional UPDATE from the states a change may start from; issuers re-check the state in
their own conditional UPDATE (``coupons.issue``), so pausing stops issuance at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.orm import Session

from coupons.models import DELIVERIES, Campaign, Partner
from coupons.rules import parse_rule
from data.catalog import Catalog
from data.games import Game

__all__ = ["STATE_LABELS", "TRANSITIONS", "CampaignError", "create_campaign", "set_state", "update_campaign"]

TITLE_LIMIT = 200  # the column's size
PER_FAN_LIMIT_MAX = 100
QUIET_HOURS_POLICIES = ("wait", "drop")

# Target state -> the states it may be reached from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "active": ("draft", "paused"),
    "paused": ("active",),
    "ended": ("draft", "active", "paused"),
}

STATE_LABELS = {"draft": "下書き", "active": "配信中", "paused": "一時停止", "ended": "終了"}


class CampaignError(ValueError):
    """A campaign that cannot be created or changed; the message is Japanese."""


def _checked(
    session: Session,
    catalog: Catalog,
    *,
    partner_id: int,
    title: str,
    offer_text: str,
    target_rule: dict[str, Any],
    total_cap: int,
    valid_hours: int | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    terms: str,
    image_url: str | None,
    holdout_share: float,
    delivery: str = "card",
    game_id: int | None = None,
    all_home_games: bool = False,
    win_text: str | None = None,
    loss_text: str | None = None,
    quiet_hours_policy: str = "wait",
    per_fan_limit: int = 1,
) -> dict[str, Any]:
    """A campaign's editable columns after checking every field (the one place for these rules)."""
    if session.get(Partner, partner_id) is None:
        raise CampaignError(f"店舗 {partner_id} は登録されていません。")
    if not title.strip() or not offer_text.strip():
        raise CampaignError("タイトルと特典内容を入力してください。")
    if len(title.strip()) > TITLE_LIMIT:
        raise CampaignError(
            f"タイトルは{TITLE_LIMIT}文字以内にしてください（いま{len(title.strip())}文字）。"
        )
    if total_cap < 0:
        raise CampaignError("配布上限は 0 以上にしてください。")
    if not 1 <= per_fan_limit <= PER_FAN_LIMIT_MAX:
        raise CampaignError(
            f"1人あたりの上限は 1〜{PER_FAN_LIMIT_MAX} 枚にしてください（いま {per_fan_limit}）。"
        )
    if not 0.0 <= holdout_share < 1.0:
        raise CampaignError("比較用に配らない割合は 0 以上 1 未満にしてください。")
    if image_url and not image_url.startswith("https://"):
        raise CampaignError(
            "画像の URL は https:// で始まるものにしてください（LINE は HTTPS の画像しか表示しません）。"
        )
    if valid_hours is not None:
        if valid_hours <= 0 or valid_from is not None or valid_until is not None:
            raise CampaignError("有効期間は「配信から N 時間（N は 1 以上）」か固定の期間のどちらかです。")
    elif valid_from is None or valid_until is None or valid_until <= valid_from:
        raise CampaignError("有効期間（開始と終了、終了は開始より後）を指定してください。")
    if delivery not in DELIVERIES:
        raise CampaignError(f"配信方法「{delivery}」は使えません。")
    if game_id is not None and all_home_games:
        raise CampaignError("「この試合の後」と「すべてのホームゲームの後」はどちらか一方にしてください。")
    if delivery == "line_coupon" and (game_id is not None or all_home_games):
        # The post-game message carries fanbot's own cards (several campaigns in one message).
        raise CampaignError(
            "LINEクーポンでの配信は「今すぐ・手動」のキャンペーンだけです。"
            "試合の後に配るときはクーポンカードを選んでください。"
        )
    if game_id is not None and session.get(Game, game_id) is None:
        raise CampaignError(f"試合 {game_id} は見つかりません。")
    if quiet_hours_policy not in QUIET_HOURS_POLICIES:
        raise CampaignError("深夜（22時〜8時）の扱いは「朝まで待つ」か「送らない」にしてください。")
    rule = parse_rule(target_rule, catalog)
    return {
        "delivery": delivery,
        "game_id": game_id,
        "all_home_games": all_home_games,
        "win_text": (win_text or "").strip() or None,
        "loss_text": (loss_text or "").strip() or None,
        "quiet_hours_policy": quiet_hours_policy,
        "partner_id": partner_id,
        "title": title.strip(),
        "offer_text": offer_text.strip(),
        "image_url": image_url or None,
        "terms": terms.strip(),
        "valid_hours": valid_hours,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "total_cap": total_cap,
        "per_fan_limit": per_fan_limit,
        "target_rule": rule.as_json(),
        "holdout_share": holdout_share,
    }


def create_campaign(
    session: Session,
    catalog: Catalog,
    *,
    partner_id: int,
    title: str,
    offer_text: str,
    now: datetime,
    target_rule: dict[str, Any],
    total_cap: int,
    valid_hours: int | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    terms: str = "",
    image_url: str | None = None,
    holdout_share: float = 0.10,
    delivery: str = "card",
    game_id: int | None = None,
    all_home_games: bool = False,
    win_text: str | None = None,
    loss_text: str | None = None,
    quiet_hours_policy: str = "wait",
    per_fan_limit: int = 1,
) -> Campaign:
    """Add a draft campaign (flushed, not committed) after checking every field."""
    values = _checked(
        session,
        catalog,
        partner_id=partner_id,
        title=title,
        offer_text=offer_text,
        target_rule=target_rule,
        total_cap=total_cap,
        valid_hours=valid_hours,
        valid_from=valid_from,
        valid_until=valid_until,
        terms=terms,
        image_url=image_url,
        holdout_share=holdout_share,
        delivery=delivery,
        game_id=game_id,
        all_home_games=all_home_games,
        win_text=win_text,
        loss_text=loss_text,
        quiet_hours_policy=quiet_hours_policy,
        per_fan_limit=per_fan_limit,
    )
    campaign = Campaign(**values, issued_count=0, state="draft", created_at=now, updated_at=now)
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(
    session: Session, catalog: Catalog, campaign_id: int, now: datetime, **fields: Any
) -> Campaign:
    """Change a campaign's offer, rule, limits or validity (same checks as creating it).

    Coupons already issued keep the offer and window they were issued with: they hold a copy.
    Lowering the per-fan limit takes no coupon back; it only stops further ones. An ended
    campaign cannot be changed.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"キャンペーン {campaign_id} は見つかりません。")
    if campaign.state == "ended":
        raise CampaignError("終了したキャンペーンは変更できません。")
    values = _checked(session, catalog, **fields)
    if values["total_cap"] < campaign.issued_count:
        raise CampaignError(f"配布上限を、すでに配布した {campaign.issued_count} 枚より少なくはできません。")
    if values["delivery"] != campaign.delivery and campaign.issued_count:
        raise CampaignError("配布を始めたキャンペーンの配信方法は変えられません。")
    for column, value in values.items():
        setattr(campaign, column, value)
    campaign.updated_at = now
    session.flush()
    return campaign


def set_state(session: Session, campaign_id: int, state: str, now: datetime) -> None:
    """Move the campaign to ``state`` if allowed from its current state, else raise."""
    if state not in TRANSITIONS:
        raise CampaignError(f"状態「{state}」にはできません。")
    ready = Campaign.total_cap > 0 if state == "active" else and_(True)
    changed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state.in_(TRANSITIONS[state]), ready)
        .values(state=state, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount == 1:
        return
    current = session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
    if current is None:
        raise CampaignError(f"キャンペーン {campaign_id} は見つかりません。")
    if state == "active" and current in TRANSITIONS[state]:
        raise CampaignError("配布上限が 0 のため有効にできません。配布上限を設定してください。")
    raise CampaignError(
        f"キャンペーン {campaign_id} は「{STATE_LABELS.get(current, current)}」のため"
        f"「{STATE_LABELS[state]}」にできません。"
    )
