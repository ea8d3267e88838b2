"""Campaigns in the admin pages: create and edit (also from an analysis pair), preview the audience
and its message cost against this month's LINE quota, activate, pause, end.

Every check is the domain's (`coupons.campaigns`, `coupons.rules`): the page only turns the form
into values and shows the Japanese message the domain raises.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.admin.blueprint import bp
from bot.app_context import get_catalog, get_line_client, get_settings, now
from bot.db import get_session
from bot.line_client import LineApiError, MessageQuota
from coupons.audience import preview_audience
from coupons.campaigns import (
    STATE_LABELS,
    TRANSITIONS,
    CampaignError,
    create_campaign,
    set_state,
    update_campaign,
)
from coupons.models import Campaign, Partner
from coupons.rules import OPERATORS, RuleError, parse_rule
from data.catalog import Catalog
from data.games import Game
from data.line_quota import StoredQuota, stored_quota

TOKYO = ZoneInfo("Asia/Tokyo")
CONDITION_ROWS = 3
STATE_ACTIONS = {"active": "有効にする", "paused": "一時停止", "ended": "終了する"}


def _clean(name: str) -> str:
    """A field that holds a number, a date or an id: width-folded (全角の数字 too)."""
    return unicodedata.normalize("NFKC", request.form.get(name, "")).strip()


def _text(name: str) -> str:
    """A field fans read: kept as the marketer typed it (full-width punctuation included)."""
    return request.form.get(name, "").strip()


def _local(value: str, label: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CampaignError(f"{label}「{value}」が日時として読めません。") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=TOKYO)


def _number(value: str, label: str, kind: type = int) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise CampaignError(f"{label}「{value}」は数値ではありません。") from None


def _rule_from_form() -> dict[str, Any]:
    conditions = []
    for row in range(CONDITION_ROWS):
        item = _clean(f"item{row}")
        if not item:
            continue
        value = _clean(f"value{row}")
        conditions.append({"item": item, "op": _clean(f"op{row}") or "=", "value": value})
    rule: dict[str, Any] = {"all": conditions}
    if look_item := _clean("lookalike_item"):
        rule["lookalike"] = {"item": look_item, "min_score": _clean("lookalike_min") or "0.7"}
    return rule


def _fields_from_form() -> dict[str, Any]:
    """The form as the domain's keyword arguments; CampaignError names a field it cannot read."""
    partner = _clean("partner_id")
    if not partner.isdigit():
        raise CampaignError("店舗を選んでください。")
    window = request.form.get("validity") == "window"
    hours = _clean("valid_hours")
    share = _clean("holdout_percent") or "10"
    return {
        "partner_id": int(partner),
        "title": _text("title"),
        "offer_text": _text("offer_text"),
        "terms": _text("terms"),
        "image_url": _clean("image_url") or None,
        "total_cap": _number(_clean("total_cap") or "0", "配布上限"),
        "per_fan_limit": _number(_clean("per_fan_limit") or "1", "1人あたりの上限"),
        "valid_hours": None if window else _number(hours or "0", "有効時間"),
        "valid_from": _local(_clean("valid_from"), "開始日時") if window else None,
        "valid_until": _local(_clean("valid_until"), "終了日時") if window else None,
        "holdout_share": _number(share, "比較用に配らない割合", float) / 100,
        "target_rule": _rule_from_form(),
        "delivery": request.form.get("delivery") or "card",
        "game_id": int(when) if (when := request.form.get("when", "")).isdigit() else None,
        "all_home_games": when == "home",
        "win_text": _text("win_text") or None,
        "loss_text": _text("loss_text") or None,
        "quiet_hours_policy": request.form.get("quiet_hours_policy") or "wait",
    }


def _form_values(campaign: Campaign | None, catalog: Catalog) -> dict[str, Any]:
    """What the form shows: the posted values, the campaign's, or a rule prefilled from a pair."""
    if request.method == "POST":
        return {key: request.form.get(key, "") for key in request.form}
    values: dict[str, Any] = {
        "holdout_percent": "10",
        "valid_hours": "72",
        "validity": "hours",
        "total_cap": "500",
        "per_fan_limit": "1",
    }
    rule: dict[str, Any] = {"all": []}
    if campaign is not None:
        values.update(
            partner_id=str(campaign.partner_id),
            title=campaign.title,
            delivery=campaign.delivery,
            when="home" if campaign.all_home_games else str(campaign.game_id or ""),
            win_text=campaign.win_text or "",
            loss_text=campaign.loss_text or "",
            quiet_hours_policy=campaign.quiet_hours_policy,
            offer_text=campaign.offer_text,
            terms=campaign.terms,
            image_url=campaign.image_url or "",
            total_cap=str(campaign.total_cap),
            per_fan_limit=str(campaign.per_fan_limit),
            holdout_percent=f"{campaign.holdout_share * 100:g}",
            validity="hours" if campaign.valid_hours is not None else "window",
            valid_hours=str(campaign.valid_hours or ""),
            valid_from=campaign.valid_from.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")
            if campaign.valid_from
            else "",
            valid_until=campaign.valid_until.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")
            if campaign.valid_until
            else "",
        )
        rule = campaign.target_rule
    else:
        # 「このペアでキャンペーンを作る」: both items of the pair as conditions; the yes/no one outside
        # sports is the partner's own question, so fans predicted to answer yes can be reached too.
        for item_id in (request.args.get("source_item", ""), request.args.get("target_item", "")):
            item = catalog.get(item_id)
            if item is None:
                continue
            rule["all"].append({"item": item.id, "op": "=" if item.is_yes_no else ">=", "value": 1})
            if item.is_yes_no and not item.sports_related and "lookalike" not in rule:
                rule["lookalike"] = {"item": item.id, "min_score": 0.7}
    for row, condition in enumerate(rule.get("all", [])[:CONDITION_ROWS]):
        values[f"item{row}"] = condition["item"]
        values[f"op{row}"] = condition["op"]
        values[f"value{row}"] = f"{float(condition['value']):g}"
    if look := rule.get("lookalike"):
        values["lookalike_item"] = look["item"]
        values["lookalike_min"] = f"{float(look['min_score']):g}"
    return values


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = get_session().get(Campaign, campaign_id)
    if campaign is None:
        abort(404, description="そのキャンペーンは見つかりません。")
    return campaign


@bp.route("/campaigns/new", methods=["GET", "POST"])
def campaign_new() -> Any:
    return _edit(None)


@bp.route("/campaigns/<id:campaign_id>/edit", methods=["GET", "POST"])
def campaign_edit(campaign_id: int) -> Any:
    return _edit(_campaign_or_404(campaign_id))


def _edit(campaign: Campaign | None) -> Any:
    db = get_session()
    catalog = get_catalog()
    error = None
    if request.method == "POST":
        try:
            fields = _fields_from_form()
            if campaign is None:
                campaign = create_campaign(db, catalog, now=now(), **fields)
            else:
                update_campaign(db, catalog, campaign.id, now(), **fields)
            db.commit()
        except (CampaignError, RuleError) as problem:
            db.rollback()
            error = str(problem)
        else:
            flash("キャンペーンを保存しました。配信対象を確かめてから有効にしてください。")
            return redirect(url_for("admin.campaign_detail", campaign_id=campaign.id))
    partners = list(db.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.name)))
    games = list(
        db.scalars(
            select(Game).where(Game.state.in_(("scheduled", "live"))).order_by(Game.tipoff_at).limit(40)
        )
    )
    items = sorted(catalog.values(), key=lambda item: (item.category, item.id))
    return (
        render_template(
            "admin/campaign_form.html",
            campaign=campaign,
            values=_form_values(campaign, catalog),
            partners=partners,
            games=games,
            items=items,
            yes_no_items=[i for i in items if i.is_yes_no],
            labels=catalog.labels,
            operators=OPERATORS,
            rows=range(CONDITION_ROWS),
            error=error,
        ),
        422 if error else 200,
    )


def _quota() -> MessageQuota | StoredQuota | None:
    """LINE's figure now; when LINE cannot be asked, the one the scheduler last read (with its time)."""
    try:
        return get_line_client().message_quota()
    except LineApiError:
        return stored_quota(get_session())


@bp.get("/campaigns/<id:campaign_id>")
def campaign_detail(campaign_id: int) -> Any:
    db = get_session()
    campaign = _campaign_or_404(campaign_id)
    partner = db.get(Partner, campaign.partner_id)
    catalog = get_catalog()
    rule = parse_rule(campaign.target_rule, catalog)
    preview = preview_audience(db, campaign, rule, get_settings().consent_version)
    quota = _quota()
    remaining = quota.remaining if quota is not None else None
    return render_template(
        "admin/campaign.html",
        campaign=campaign,
        partner=partner,
        game=db.get(Game, campaign.game_id) if campaign.game_id else None,
        rule=rule,
        preview=preview,
        quota=quota,
        over_quota=remaining is not None and preview.targeted > remaining,
        labels=catalog.labels,
        state_label=STATE_LABELS.get(campaign.state, campaign.state),
        actions={
            state: label for state, label in STATE_ACTIONS.items() if campaign.state in TRANSITIONS[state]
        },
    )


@bp.post("/campaigns/<id:campaign_id>/state")
def campaign_state(campaign_id: int) -> Any:
    db = get_session()
    _campaign_or_404(campaign_id)
    target = request.form.get("state", "")
    try:
        set_state(db, campaign_id, target, now())
        db.commit()
    except CampaignError as problem:
        db.rollback()
        flash(str(problem))
    else:
        flash(f"キャンペーンを「{STATE_LABELS[target]}」にしました。")
    return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))


@bp.post("/campaigns/<id:campaign_id>/score")
def campaign_score(campaign_id: int) -> Any:
    """Run the scoring run for the campaign's lookalike item (what `fanbot segments score` does)."""
    from bot.scoring import run_scoring
    from segmentation.lookalike import LookalikeError

    db = get_session()
    campaign = _campaign_or_404(campaign_id)
    look = campaign.target_rule.get("lookalike")
    if not look:
        abort(400, description="このキャンペーンには予測スコアの条件がありません。")
    try:
        run = run_scoring(db, get_catalog(), str(look["item"]), get_settings().consent_version, now())
        db.commit()
    except LookalikeError as problem:
        db.rollback()
        flash(str(problem))
    else:
        auc = f"交差検証 AUC {run.auc:.2f}" if run.auc is not None else "回答が少ないため精度は未評価"
        flash(f"予測スコアを計算しました（{run.scored:,} 人、{auc}）。")
    return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))
