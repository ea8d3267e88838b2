"""Campaign pages: create (also from an analysis pair), edit, preview the audience and cost, activate."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon, Partner
from coupons.partners import create_partner
from coupons.scores import FanScore, store_scores
from data.games import Game
from data.line_quota import save_quota
from data.models import Answer, Fan
from tests.conftest import FrozenClock, RunningEmulator, form_csrf

VERSION = "2026-11"


def _shop(session: Session, clock: FrozenClock) -> Partner:
    shop = create_partner(session, name="湯の郷 <b>アリーナ前店</b>", access_code="sento-2026", now=clock())
    session.commit()
    return shop


def _fan(session: Session, clock: FrozenClock, number: int, answers: dict[str, float]) -> Fan:
    fan = Fan(
        line_user_id=f"U{number:032x}",
        source="line",
        is_following=True,
        followed_at=clock() - timedelta(days=3),
        consented_at=clock() - timedelta(days=3),
        consent_version=VERSION,
    )
    session.add(fan)
    session.flush()
    session.add_all(
        Answer(fan_id=fan.id, item_id=k, value=v, answered_at=clock()) for k, v in answers.items()
    )
    session.commit()
    return fan


def _form(shop: Partner, **overrides: str) -> dict[str, str]:
    values = {
        "partner_id": str(shop.id),
        "title": "試合後の入浴 200円引き",
        "offer_text": "入館料から200円引き",
        "terms": "お一人様1回",
        "item0": "likes_super_sento",
        "op0": "=",
        "value0": "1",
        "item1": "live_games_per_year",
        "op1": ">=",
        "value1": "3",
        "lookalike_item": "likes_super_sento",
        "lookalike_min": "0.6",
        "validity": "hours",
        "valid_hours": "48",
        "total_cap": "100",
        "holdout_percent": "10",
    }
    values.update(overrides)
    return values


def _post(client: FlaskClient, path: str, data: dict[str, str]) -> Any:
    token = form_csrf(client.get("/admin/campaigns/new").get_data(as_text=True))
    return client.post(path, data={"csrf": token, **data})


def test_a_campaign_is_created_previewed_and_activated(
    admin_client: FlaskClient, session: Session, clock: FrozenClock, emulator: RunningEmulator
) -> None:
    shop = _shop(session, clock)
    direct = [_fan(session, clock, n, {"likes_super_sento": 1, "live_games_per_year": 5}) for n in range(6)]
    _fan(session, clock, 50, {"likes_super_sento": 0, "live_games_per_year": 9})
    predicted = _fan(session, clock, 60, {"live_games_per_year": 12})
    store_scores(
        session,
        "likes_super_sento",
        {
            predicted.id: FanScore(
                0.83, [{"item": "live_games_per_year", "answer": 12.0, "contribution": 1.1}]
            )
        },
        run_at=clock(),
        auc=0.71,
    )
    session.commit()
    emulator.state.message_quota = 5

    created = _post(admin_client, "/admin/campaigns/new", _form(shop))
    assert created.status_code == 302
    campaign = session.scalars(select(Campaign)).one()
    assert campaign.state == "draft" and campaign.valid_hours == 48 and campaign.holdout_share == 0.10
    page = admin_client.get(created.headers["Location"]).get_data(as_text=True)
    counts = {
        name: int(re.search(rf'id="count-{name}">(\d+)', page).group(1))  # type: ignore[union-attr]
        for name in ("direct", "lookalike", "holdout", "targeted")
    }
    assert counts["direct"] == len(direct) and counts["lookalike"] == 1
    assert counts["holdout"] + counts["targeted"] == len(direct) + 1
    assert f"{counts['targeted']} 通（1人1通）" in page
    assert "5 通（上限 5 通、送信済み 0 通）" in page
    assert ("今月の残り送信数を超えています" in page) == (counts["targeted"] > 5)
    assert "予測スコア 0.83" in page and "交差検証 AUC 0.71" in page
    # The shop's name is text, never markup.
    assert "<b>アリーナ前店</b>" not in page and "&lt;b&gt;アリーナ前店&lt;/b&gt;" in page

    token = form_csrf(page)
    activated = admin_client.post(
        f"/admin/campaigns/{campaign.id}/state",
        data={"csrf": token, "state": "active"},
        follow_redirects=True,
    )
    assert "配信中" in activated.get_data(as_text=True)
    session.expire_all()
    assert session.get(Campaign, campaign.id).state == "active"  # type: ignore[union-attr]


def test_when_line_cannot_be_asked_the_page_shows_the_quota_last_read_with_its_time(
    admin_client: FlaskClient, session: Session, clock: FrozenClock, emulator: RunningEmulator
) -> None:
    created = _post(admin_client, "/admin/campaigns/new", _form(_shop(session, clock)))
    page = created.headers["Location"]
    emulator.state.inject_failures("/v2/bot/message/quota", [500])
    never_read = admin_client.get(page).get_data(as_text=True)
    save_quota(session, 1000, 250, clock())  # what the scheduler's quota job keeps
    session.commit()
    emulator.state.inject_failures("/v2/bot/message/quota", [500])
    stored = admin_client.get(page).get_data(as_text=True)
    live = admin_client.get(page).get_data(as_text=True)

    assert "LINE から取得できませんでした" in never_read
    assert "750 通（上限 1000 通、送信済み 250 通）" in stored
    assert "LINE に繋がらないため、2026-11-28 21:30 時点の値です" in stored
    assert "1000 通（上限 1000 通、送信済み 0 通）" in live and "時点の値" not in live


def test_the_form_refuses_what_is_wrong_in_japanese_and_keeps_the_input(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    shop = _shop(session, clock)
    cases = [
        ({"item0": "no_such_item"}, "「no_such_item」はアンケートの項目にありません。"),
        ({"value0": "2"}, "当てはまる回答はありえません"),
        ({"total_cap": "たくさん"}, "配布上限「たくさん」は数値ではありません。"),
        (
            {"validity": "window", "valid_from": "2026-12-02T10:00", "valid_until": "2026-12-01T10:00"},
            "有効期間",
        ),
        ({"partner_id": ""}, "店舗を選んでください。"),
        ({"image_url": "http://example.com/a.png"}, "https://"),
        ({"title": ""}, "タイトルと特典内容を入力してください。"),
        ({"per_fan_limit": "0"}, "1人あたりの上限は 1〜100 枚にしてください（いま 0）。"),
        (
            {"delivery": "line_coupon", "when": "home"},
            "LINEクーポンでの配信は「今すぐ・手動」のキャンペーンだけです。",
        ),
        ({"per_fan_limit": "二枚"}, "1人あたりの上限「二枚」は数値ではありません。"),
    ]
    for overrides, message in cases:
        response = _post(admin_client, "/admin/campaigns/new", _form(shop, **overrides))
        html = response.get_data(as_text=True)
        assert response.status_code == 422, overrides
        assert message in html, (overrides, html[:2000])
        assert 'value="入館料から200円引き"' in html  # nothing typed is lost
    assert session.scalars(select(Campaign)).all() == []


def test_a_campaign_without_a_cap_cannot_be_activated(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    shop = _shop(session, clock)
    assert _post(admin_client, "/admin/campaigns/new", _form(shop, total_cap="0")).status_code == 302
    campaign = session.scalars(select(Campaign)).one()
    token = form_csrf(admin_client.get(f"/admin/campaigns/{campaign.id}").get_data(as_text=True))
    page = admin_client.post(
        f"/admin/campaigns/{campaign.id}/state",
        data={"csrf": token, "state": "active"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "配布上限が 0 のため有効にできません" in page
    session.expire_all()
    assert session.get(Campaign, campaign.id).state == "draft"  # type: ignore[union-attr]


def test_editing_an_active_campaign_leaves_issued_coupons_as_they_were(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    shop = _shop(session, clock)
    fan = _fan(session, clock, 1, {"likes_super_sento": 1, "live_games_per_year": 5})
    assert _post(admin_client, "/admin/campaigns/new", _form(shop)).status_code == 302
    campaign = session.scalars(select(Campaign)).one()
    campaign.state = "active"
    session.commit()
    issued = issue_coupon(session, campaign.id, fan.id, clock())
    session.commit()
    assert issued.coupon is not None
    edit = admin_client.get(f"/admin/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert "すでに配布した 1 枚のクーポン" in edit
    changed = _post(
        admin_client,
        f"/admin/campaigns/{campaign.id}/edit",
        _form(shop, offer_text="入館料から300円引き", valid_hours="24"),
    )
    assert changed.status_code == 302
    lowered = _post(admin_client, f"/admin/campaigns/{campaign.id}/edit", _form(shop, total_cap="0"))
    assert lowered.status_code == 422 and "すでに配布した 1 枚より少なくはできません" in lowered.get_data(
        as_text=True
    )
    session.expire_all()
    coupon = session.scalars(select(Coupon)).one()
    assert coupon.offer_text == "入館料から200円引き"
    assert coupon.expires_at == clock() + timedelta(hours=48)
    assert session.get(Campaign, campaign.id).offer_text == "入館料から300円引き"  # type: ignore[union-attr]


def test_a_pair_from_the_analysis_prefills_the_rule(admin_client: FlaskClient) -> None:
    page = admin_client.get(
        "/admin/campaigns/new?source_item=live_games_per_year&target_item=likes_super_sento"
    ).get_data(as_text=True)
    assert re.search(r'name="item0".*?<option value="live_games_per_year" selected', page, re.S)
    assert re.search(r'name="op0".*?<option value="&gt;=" selected', page, re.S)
    assert re.search(r'name="item1".*?<option value="likes_super_sento" selected', page, re.S)
    assert re.search(r'name="lookalike_item".*?<option value="likes_super_sento" selected', page, re.S)


def test_campaign_pages_refuse_anonymous_users_and_shop_sessions(
    client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    shop = _shop(session, clock)
    token = form_csrf(client.get("/partner/login").get_data(as_text=True))
    assert (
        client.post(
            "/partner/login", data={"csrf": token, "shop": str(shop.id), "access_code": "sento-2026"}
        ).status_code
        == 302
    )
    for path in ("/admin/campaigns", "/admin/campaigns/new", "/admin/campaigns/1", "/admin/campaigns/1/edit"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"], path


def test_scoring_from_the_campaign_page_stores_scores_or_says_why_not(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    from coupons.models import LookalikeScore
    from data.demo import load_demo_data

    shop = _shop(session, clock)
    assert _post(admin_client, "/admin/campaigns/new", _form(shop)).status_code == 302
    assert _post(admin_client, "/admin/campaigns/new", _form(shop, lookalike_item="")).status_code == 302
    with_score, without = session.scalars(select(Campaign).order_by(Campaign.id)).all()
    token = form_csrf(admin_client.get(f"/admin/campaigns/{with_score.id}").get_data(as_text=True))
    page = admin_client.post(
        f"/admin/campaigns/{with_score.id}/score", data={"csrf": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "まだ回答がありません" in page
    load_demo_data(session, respondents=200)
    session.commit()
    page = admin_client.post(
        f"/admin/campaigns/{with_score.id}/score", data={"csrf": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "予測スコアを計算しました（200 人" in page
    assert len(session.scalars(select(LookalikeScore)).all()) == 200
    assert admin_client.post(f"/admin/campaigns/{without.id}/score", data={"csrf": token}).status_code == 400


def test_the_delivery_is_chosen_on_the_form_and_fixed_once_coupons_went_out(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    shop = _shop(session, clock)
    fan = _fan(session, clock, 1, {"likes_super_sento": 1, "live_games_per_year": 5})
    assert _post(admin_client, "/admin/campaigns/new", _form(shop, delivery="line_coupon")).status_code == 302
    campaign = session.scalars(select(Campaign)).one()
    assert campaign.delivery == "line_coupon"
    assert "LINEクーポン" in admin_client.get(f"/admin/campaigns/{campaign.id}").get_data(as_text=True)
    refused = _post(admin_client, "/admin/campaigns/new", _form(shop, delivery="fax"))
    assert refused.status_code == 422 and "配信方法「fax」は使えません。" in refused.get_data(as_text=True)
    campaign.state = "active"
    session.commit()
    assert issue_coupon(session, campaign.id, fan.id, clock()).status == "issued"
    session.commit()
    changed = _post(admin_client, f"/admin/campaigns/{campaign.id}/edit", _form(shop, delivery="card"))
    assert changed.status_code == 422
    assert "配布を始めたキャンペーンの配信方法は変えられません。" in changed.get_data(as_text=True)


def test_a_campaign_is_attached_to_a_game_or_to_every_home_game(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    from data.games import import_games, parse_games_csv

    shop = _shop(session, clock)
    schedule = "key,tipoff,opponent,home_away,venue\ng-1205,2026-12-05 15:05,秋田,home,みちのくアリーナ\n"
    import_games(session, parse_games_csv(schedule), clock())
    session.commit()
    game_id = session.scalars(select(Game.id)).one()
    form = _form(
        shop, when=str(game_id), win_text="勝利記念！", loss_text="次は勝つ！", quiet_hours_policy="drop"
    )
    assert _post(admin_client, "/admin/campaigns/new", form).status_code == 302
    assert _post(admin_client, "/admin/campaigns/new", _form(shop, when="home")).status_code == 302
    one, every = session.scalars(select(Campaign).order_by(Campaign.id)).all()
    assert (one.game_id, one.all_home_games, one.win_text, one.loss_text) == (
        game_id,
        False,
        "勝利記念！",
        "次は勝つ！",
    )
    assert one.quiet_hours_policy == "drop"
    assert (every.game_id, every.all_home_games) == (None, True)
    page = admin_client.get(f"/admin/campaigns/{one.id}").get_data(as_text=True)
    assert "vs 秋田 の後" in page and "深夜は送らない" in page
    refused = _post(admin_client, "/admin/campaigns/new", _form(shop, when="999"))
    assert refused.status_code == 422 and "試合 999 は見つかりません。" in refused.get_data(as_text=True)


def test_the_per_fan_limit_is_set_on_the_form_and_kept_by_an_edit(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    shop = _shop(session, clock)
    assert _post(admin_client, "/admin/campaigns/new", _form(shop, per_fan_limit="3")).status_code == 302
    campaign = session.scalars(select(Campaign)).one()
    assert campaign.per_fan_limit == 3
    edit = admin_client.get(f"/admin/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'name="per_fan_limit" value="3"' in edit
    assert (
        _post(
            admin_client, f"/admin/campaigns/{campaign.id}/edit", _form(shop, per_fan_limit="2")
        ).status_code
        == 302
    )
    session.expire_all()
    assert session.get(Campaign, campaign.id).per_fan_limit == 2  # type: ignore[union-attr]


def test_html_in_a_campaigns_text_is_shown_as_text_on_every_page(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    shop = _shop(session, clock)
    attack = '"><img src=x onerror=alert(1)>'
    fields = _form(shop, title=f"入浴{attack}", offer_text=f"特典{attack}", terms=f"条件{attack}")
    assert _post(admin_client, "/admin/campaigns/new", fields).status_code == 302
    campaign = session.scalars(select(Campaign)).one()
    for path in (
        "/admin/campaigns",
        f"/admin/campaigns/{campaign.id}",
        f"/admin/campaigns/{campaign.id}/edit",
        f"/admin/campaigns/{campaign.id}/report",
        f"/admin/partners/{shop.id}/report",
        "/admin/",
    ):
        response = admin_client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert "<img src=x" not in html, path
    assert "&lt;img src=x onerror=alert(1)&gt;" in admin_client.get(
        f"/admin/campaigns/{campaign.id}"
    ).get_data(as_text=True)
