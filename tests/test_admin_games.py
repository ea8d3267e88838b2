"""The games page: import a schedule, mark a game final with its score, postpone one."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.postgame import plan_post_game
from bot.settings import CONSENT_VERSION, Settings
from coupons.audience import holdout_group
from coupons.models import Campaign
from coupons.partners import create_partner
from data.catalog import load_catalog
from data.games import Game, import_games, parse_games_csv
from data.models import Answer, Fan
from data.outbox import OutboxMessage
from tests.conftest import FrozenClock, form_csrf

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)  # the `clock` fixture's start: 21:30 in Tokyo

SCHEDULE = """key,tipoff,opponent,home_away,venue
g-1128,2026-11-28 15:05,仙台89ERS,home,みちのくアリーナ
g-1205,2026-12-05 15:05,<b>秋田</b>,away,CNAアリーナ
"""


def _upload(client: FlaskClient, name: str, content: bytes) -> str:
    token = form_csrf(client.get("/admin/games").get_data(as_text=True))
    response = client.post(
        "/admin/games/import",
        data={"csrf": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return response.get_data(as_text=True)


def test_a_schedule_is_imported_a_game_marked_final_and_one_postponed(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    page = _upload(admin_client, "season.csv", SCHEDULE.encode("cp932", errors="strict"))
    assert "2 試合を追加、0 試合を更新しました。" in page
    assert "&lt;b&gt;秋田&lt;/b&gt;" in page and "<b>秋田</b>" not in page
    today, later = session.scalars(select(Game).order_by(Game.tipoff_at)).all()
    # Only a game that has started can be marked final.
    assert f'/admin/games/{today.id}/final"' in page and f'/admin/games/{later.id}/final"' not in page
    token = form_csrf(page)
    bad = admin_client.post(
        f"/admin/games/{today.id}/final", data={"csrf": token, "score": "たくさん"}, follow_redirects=True
    )
    assert "スコア「たくさん」が読めません" in bad.get_data(as_text=True)
    done = admin_client.post(
        f"/admin/games/{today.id}/final", data={"csrf": token, "score": "85-79"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "試合終了として記録しました（vs 仙台89ERS 85-79）" in done
    assert re.search(r'data-key="g-1128">.*?終了.*?85-79', done, re.S)
    admin_client.post(f"/admin/games/{later.id}/postpone", data={"csrf": token})
    session.expire_all()
    assert [g.state for g in session.scalars(select(Game).order_by(Game.tipoff_at))] == ["final", "postponed"]


def test_a_bad_schedule_imports_nothing_and_says_where(admin_client: FlaskClient, session: Session) -> None:
    page = _upload(admin_client, "season.csv", (SCHEDULE + "g-x,そのうち,宇都宮,home,アリーナ\n").encode())
    assert "4行目: 開始日時「そのうち」が読めません" in page and "何も取り込んでいません" in page
    assert session.scalars(select(Game)).all() == []


def test_the_games_page_needs_a_marketer(client: FlaskClient) -> None:
    response = client.get("/admin/games")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def _game(session: Session, key: str, tipoff: str, *, home: bool = True) -> Game:
    side = "home" if home else "away"
    import_games(
        session,
        parse_games_csv(f"key,tipoff,opponent,home_away,venue\n{key},{tipoff},仙台89ERS,{side},みちのく\n"),
        NOW,
    )
    session.commit()
    return session.scalars(select(Game).where(Game.key == key)).one()


def _edit(client: FlaskClient, game: Game, **changes: str) -> tuple[int, str]:
    page = client.get(f"/admin/games/{game.id}").get_data(as_text=True)
    values = {
        "csrf": form_csrf(page),
        "opponent": "仙台89ERS",
        "home_away": "home",
        "venue": "みちのく",
        "tipoff": "2026-12-05T19:05",
        "state": "scheduled",
        "score": "",
    }
    values.update(changes)
    response = client.post(f"/admin/games/{game.id}", data=values, follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def test_a_game_is_edited_in_japan_time_and_the_form_shows_what_is_stored(
    admin_client: FlaskClient, session: Session
) -> None:
    game = _game(session, "g-1205", "2026-12-05 15:05")
    page = admin_client.get(f"/admin/games/{game.id}").get_data(as_text=True)
    assert 'value="2026-12-05T15:05"' in page and 'value="みちのく"' in page
    status, page = _edit(
        admin_client,
        game,
        opponent="<i>秋田</i>",
        home_away="away",
        venue="ＣＮＡアリーナ",
        tipoff="2026-12-06T14:05",
    )
    assert status == 200 and "の試合を保存しました" in page
    assert "&lt;i&gt;秋田&lt;/i&gt;" in page and "<i>秋田</i>" not in page
    session.expire_all()
    edited = session.get(Game, game.id)
    assert edited is not None
    assert (edited.opponent, edited.home, edited.venue, edited.key) == (
        "<i>秋田</i>",
        False,
        "CNAアリーナ",
        "g-1205",
    )
    assert edited.tipoff_at == datetime(2026, 12, 6, 5, 5, tzinfo=UTC)  # 14:05 in Tokyo


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tipoff": "来週の土曜"}, "開始日時「来週の土曜」が読めません（例: 2026-12-05 19:05"),
        ({"tipoff": ""}, "開始日時が空です。"),
        ({"opponent": "  "}, "対戦相手が空です。"),
        ({"opponent": "秋" * 201}, "対戦相手が長すぎます（200文字まで）。"),
        ({"home_away": "neutral"}, "ホーム/アウェイ「neutral」は home か away にしてください。"),
        ({"state": "cancelled"}, "状態「cancelled」は選べません"),
        ({"state": "final", "score": "85-79"}, "はまだ始まっていません（12月05日 15:05 開始）"),
        ({"state": "live"}, "まだ始まっていないので「試合中」にはできません"),
    ],
)
def test_a_bad_edit_says_what_is_wrong_in_japanese_and_changes_nothing(
    admin_client: FlaskClient, session: Session, changes: dict[str, str], message: str
) -> None:
    game = _game(session, "g-1205", "2026-12-05 15:05")
    status, page = _edit(admin_client, game, **{"tipoff": "2026-12-05T15:05", **changes})
    assert status == 422
    shown = re.search(r'id="form-error">([^<]*)</p>', page)
    assert shown is not None and message in shown.group(1)
    if changes.get("opponent"):
        assert 'name="opponent" value="' in page  # the typed value is kept in the form
    session.expire_all()
    kept = session.get(Game, game.id)
    assert kept is not None
    assert (kept.opponent, kept.home, kept.state) == ("仙台89ERS", True, "scheduled")


def test_a_started_game_is_marked_final_from_the_form_and_stays_final(
    admin_client: FlaskClient, session: Session
) -> None:
    game = _game(session, "g-1128", "2026-11-28 15:05")
    status, page = _edit(admin_client, game, tipoff="2026-11-28T15:05", state="final", score="")
    assert status == 422 and "スコア「」が読めません（例: 85-79、自チームが先）。" in page
    status, page = _edit(admin_client, game, tipoff="2026-11-28T15:05", state="final", score="８５－７９")
    assert status == 200 and re.search(r'id="game-score">85-79（勝ち）', page)
    status, page = _edit(admin_client, game, tipoff="2026-11-28T15:05", state="scheduled")
    assert status == 422 and "終了した試合は、予定・試合中・延期に戻せません" in page
    # A correction of the venue keeps the result; the score can still be corrected.
    status, page = _edit(
        admin_client, game, tipoff="2026-11-28T15:05", state="final", score="85-80", venue="別会場"
    )
    assert status == 200
    session.expire_all()
    final = session.get(Game, game.id)
    assert final is not None and (final.state, final.our_score, final.their_score, final.venue) == (
        "final",
        85,
        80,
        "別会場",
    )


def test_an_edit_without_the_csrf_token_is_refused(admin_client: FlaskClient, session: Session) -> None:
    game = _game(session, "g-1205", "2026-12-05 15:05")
    response = admin_client.post(f"/admin/games/{game.id}", data={"opponent": "秋田", "home_away": "away"})
    assert response.status_code == 400
    session.expire_all()
    assert session.get(Game, game.id).opponent == "仙台89ERS"  # type: ignore[union-attr]


def test_an_unknown_game_is_a_404_in_japanese(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/games/999")
    assert response.status_code == 404 and "その試合は見つかりません。" in response.get_data(as_text=True)


def _fans(session: Session, sento: list[int]) -> list[int]:
    """Consented LINE fans answering likes_super_sento as given; their ids."""
    ids = []
    for number, answer in enumerate(sento, start=1):
        fan = Fan(
            line_user_id=f"U{number:032x}",
            source="line",
            is_following=True,
            followed_at=NOW - timedelta(days=3),
            consented_at=NOW - timedelta(days=3),
            consent_version=CONSENT_VERSION,
        )
        session.add(fan)
        session.flush()
        session.add(Answer(fan_id=fan.id, item_id="likes_super_sento", value=answer, answered_at=NOW))
        ids.append(fan.id)
    return ids


def _campaign(session: Session, partner_id: int, title: str, **values: object) -> Campaign:
    fields: dict[str, object] = {
        "partner_id": partner_id,
        "title": title,
        "offer_text": f"{title}の特典",
        "valid_hours": 48,
        "total_cap": 100,
        "target_rule": {"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]},
        "holdout_share": 0.5,
        "created_at": NOW - timedelta(days=1),
        "updated_at": NOW - timedelta(days=1),
    }
    campaign = Campaign(**{**fields, **values})
    session.add(campaign)
    session.flush()
    return campaign


def _row(page: str, campaign: Campaign) -> str:
    found = re.search(rf'<tr data-campaign="{campaign.id}">(.*?)</tr>', page, re.S)
    assert found, f"no row for campaign {campaign.title}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_the_game_page_shows_the_planned_sends_then_what_was_sent_and_why_some_failed(
    admin_client: FlaskClient, session: Session
) -> None:
    game = _game(session, "g-1128", "2026-11-28 15:05")
    fans = _fans(session, [1, 1, 1, 1, 0])
    shop = create_partner(session, name="湯の郷", access_code="shop-code-1", now=NOW)
    this_game = _campaign(session, shop.id, "この試合の", state="active", game_id=game.id)
    every_home = _campaign(session, shop.id, "ホーム全部の", state="active", all_home_games=True)
    draft = _campaign(session, shop.id, "下書きの", state="draft", game_id=game.id)
    other_draft = _campaign(session, shop.id, "ホーム全部の下書き", state="draft", all_home_games=True)
    session.commit()

    page = admin_client.get(f"/admin/games/{game.id}").get_data(as_text=True)
    assert 'id="planned-sends"' in page and "試合後に送る予定の配信" in page
    for campaign in (this_game, every_home):
        held = sum(holdout_group(campaign.id, fan, 0.5) == "holdout" for fan in fans[:4])
        row = _row(page, campaign)
        assert f"配信中 {4 - held} 人 {held} 人 試合終了後に送ります" in row, row
    assert _row(page, this_game).startswith("この試合の この試合 ")
    assert _row(page, every_home).startswith("ホーム全部の すべてのホームゲーム ")
    assert "配信中ではないため送られません" in _row(page, draft)
    assert f'data-campaign="{other_draft.id}"' not in page  # a draft for every home game is not this game's

    # The game ends; the post-game job issues and queues; LINE refuses one message.
    game = session.get(Game, game.id)  # type: ignore[assignment]
    game.state, game.our_score, game.their_score = "final", 85, 79
    settings = Settings(line_channel_secret="s", line_channel_access_token="t", testing=True)
    plan = plan_post_game(session, settings, load_catalog(), game, NOW)
    game.post_game_state, game.post_game_at = "done", NOW
    first = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    assert plan.messages >= 1 and first is not None
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == first.id)
        .values(state="failed", last_error="LINE API error 400: The user hasn't added the channel")
    )
    session.commit()

    page = admin_client.get(f"/admin/games/{game.id}").get_data(as_text=True)
    assert 'id="past-sends"' in page and "試合後の配信の結果" in page
    assert "失敗 1 件：LINE API error 400: The user hasn&#39;t added the channel" in page
    row = _row(page, session.get(Campaign, first.campaign_id))  # type: ignore[arg-type]
    assert re.search(r" 0 1 \d+ 0 0 0$", row), row  # sent, failed, waiting, over quota, dropped, cancelled
    # A fan of both campaigns got one message with both cards: it counts under each campaign.
    for campaign in (this_game, every_home):
        _, _, issued, sent, failed, waiting, _, _, _ = (int(n) for n in _row(page, campaign).split()[1:])
        assert issued >= 1 and sent + failed + waiting == issued, _row(page, campaign)
    listing = admin_client.get("/admin/games").get_data(as_text=True)
    assert re.search(r"送信 0・<span class=\"error-text\">失敗 1</span>・待ち \d+", listing)


def test_the_dashboard_shows_the_next_games_planned_sends(
    admin_client: FlaskClient, session: Session
) -> None:
    _game(session, "g-1128", "2026-11-28 15:05")  # over: not the next game
    upcoming = _game(session, "g-1129", "2026-11-29 14:05")
    _game(session, "g-1205", "2026-12-05 15:05", home=False)
    fans = _fans(session, [1, 1, 0])
    shop = create_partner(session, name="湯の郷", access_code="shop-code-1", now=NOW)
    campaign = _campaign(session, shop.id, "ホーム全部の", state="active", all_home_games=True)
    session.commit()
    page = admin_client.get("/admin/").get_data(as_text=True)
    section = page[page.index('id="next-game"') :]
    assert f'href="/admin/games/{upcoming.id}"' in section and "2026-11-29 14:05" in section
    held = sum(holdout_group(campaign.id, fan, 0.5) == "holdout" for fan in fans[:2])
    assert f"配信中 {2 - held} 人 {held} 人 試合終了後に送ります" in _row(section, campaign)


def test_the_dashboard_says_when_the_next_game_has_nothing_planned(
    admin_client: FlaskClient, session: Session
) -> None:
    _game(session, "g-1205", "2026-12-05 15:05", home=False)
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert "この試合の後に送るキャンペーンはありません" in page


def test_fans_who_already_hold_the_coupon_are_not_expected_again_at_the_next_home_game(
    admin_client: FlaskClient, session: Session
) -> None:
    first = _game(session, "g-1128", "2026-11-28 15:05")
    second = _game(session, "g-1129", "2026-11-29 14:05")
    fans = _fans(session, [1, 1, 1, 1])
    shop = create_partner(session, name="湯の郷", access_code="shop-code-1", now=NOW)
    campaign = _campaign(session, shop.id, "ホーム全部の", state="active", all_home_games=True)
    session.commit()
    held = sum(holdout_group(campaign.id, fan, 0.5) == "holdout" for fan in fans)
    page = admin_client.get(f"/admin/games/{second.id}").get_data(as_text=True)
    assert f"配信中 {4 - held} 人 {held} 人" in _row(page, campaign)

    game = session.get(Game, first.id)
    assert game is not None
    game.state, game.our_score, game.their_score = "final", 85, 79
    settings = Settings(line_channel_secret="s", line_channel_access_token="t", testing=True)
    plan_post_game(session, settings, load_catalog(), game, NOW)
    game.post_game_state, game.post_game_at = "done", NOW
    session.commit()
    # One coupon per fan (the campaign's limit): the targeted fans have theirs, nobody new is expected.
    page = admin_client.get(f"/admin/games/{second.id}").get_data(as_text=True)
    assert f"配信中 0 人 {held} 人" in _row(page, campaign)


def test_the_expected_audience_stops_at_the_campaigns_cap(
    admin_client: FlaskClient, session: Session
) -> None:
    game = _game(session, "g-1129", "2026-11-29 14:05")
    _fans(session, [1, 1, 1, 1, 1, 1])
    shop = create_partner(session, name="湯の郷", access_code="shop-code-1", now=NOW)
    campaign = _campaign(session, shop.id, "限定1枚", state="active", game_id=game.id, total_cap=1)
    session.commit()
    page = admin_client.get(f"/admin/games/{game.id}").get_data(as_text=True)
    assert _row(page, campaign).startswith("限定1枚 この試合 配信中 1 人 ")


def test_postponing_a_game_whose_send_was_planned_says_what_was_called_off(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    from sqlalchemy.orm import sessionmaker

    from bot.scheduler import GAME_LENGTH, post_game_sweep
    from data.catalog import load_catalog
    from data.outbox import OutboxMessage
    from tests.test_postgame import SETTINGS, TIPOFF, _campaign, _fan

    page = _upload(admin_client, "season.csv", SCHEDULE.encode())
    today = session.scalars(select(Game).where(Game.key == "g-1128")).one()
    _fan(session, 1, {"likes_super_sento": 1})
    _campaign(session, "試合後クーポン", game_id=today.id)
    session.commit()
    # Nobody marked it final: it is over by its usual length, and the scheduler planned its send.
    over = TIPOFF + GAME_LENGTH + timedelta(minutes=1)
    planned = post_game_sweep(sessionmaker(bind=session.get_bind()), SETTINGS, load_catalog(), over)
    assert planned.messages == 1

    done = admin_client.post(
        f"/admin/games/{today.id}/postpone", data={"csrf": form_csrf(page)}, follow_redirects=True
    ).get_data(as_text=True)

    assert "vs 仙台89ERS の試合を延期にしました。送信予定のメッセージ 1 件を取り消し、" in done
    assert "そのクーポン 1 枚を無効にしました。" in done
    session.expire_all()
    assert session.scalars(select(OutboxMessage.state)).all() == ["cancelled"]
    game_page = admin_client.get(f"/admin/games/{today.id}").get_data(as_text=True)
    assert "送信予定だったメッセージ 1 件を取り消し" in game_page
