"""The post-game send through the outbox and the emulator: coupons marked sent when LINE accepts the
message carrying them (a retry answered 409 included), and a game postponed after its send was
planned (its unsent messages cancelled, their coupons voided, what was sent stays sent)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.postgame import MAX_CARDS, POSTPONED, postpone_game
from bot.scheduler import GAME_LENGTH, post_game_sweep
from bot.sender import DrainReport, Sender, SenderPolicy
from bot.settings import Settings
from coupons.models import Coupon
from coupons.redeem import redeem
from coupons.wallet import usable_coupons
from data.catalog import load_catalog
from data.games import Game, GameError, mark_final
from data.models import Fan
from data.outbox import (
    OutboxCoupon,
    OutboxMessage,
    Outcome,
    cancel_game,
    claim_batch,
    count_by_state,
    record_outcomes,
)
from tests.conftest import FrozenClock, RunningEmulator
from tests.test_postgame import TIPOFF, _campaign, _fan, _games
from tests.test_sender import FakeTime

PUSH = "/v2/bot/message/push"
# Nobody marked the game final: it counts as over at tip-off plus its usual length.
OVER = TIPOFF + GAME_LENGTH + timedelta(minutes=1)


@dataclass
class Season:
    factory: sessionmaker[Session]
    settings: Settings
    emulator: RunningEmulator
    clock: FrozenClock
    time: FakeTime
    users: list[str]

    def plan(self) -> int:
        report = post_game_sweep(self.factory, self.settings, load_catalog(), self.clock())
        assert len(report.sent) == 1
        return report.messages

    def drain(self, *, limit: int | None = None, **policy: Any) -> DrainReport:
        sender = Sender(
            self.factory,
            self.settings,
            clock=self.clock,
            policy=SenderPolicy(connections=2, **policy),
            rng=random.Random(8),
            monotonic=self.time.monotonic,
            sleep=self.time.sleep,
        )
        return sender.drain(limit=limit)

    def coupons(self) -> list[Coupon]:
        with self.factory() as session:
            return list(session.scalars(select(Coupon).order_by(Coupon.id)))

    def states(self) -> dict[str, int]:
        with self.factory() as session:
            return {k: v for k, v in count_by_state(session).items() if v}

    def pushes(self) -> list[int]:
        return [r.status for r in self.emulator.state.requests if r.path == PUSH]

    def received(self) -> list[list[dict[str, Any]]]:
        return [self.emulator.state.messages_for(user) for user in self.users]


@pytest.fixture
def season(
    engine: Engine, settings: Settings, emulator: RunningEmulator, clock: FrozenClock
) -> Iterator[Season]:
    """A home game with five campaigns attached, two matched fans known to the emulator."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session, session.begin():
        home, _ = _games(session)
        fans = [_fan(session, number, {"likes_super_sento": 1}) for number in (1, 2)]
        for number in range(MAX_CARDS + 2):
            _campaign(session, f"c{number}", game_id=home.id, valid_hours=48 + number)
        users = [str(fan.line_user_id) for fan in fans]
    for user in users:
        emulator.state.create_user("ファン", user_id=user)
        emulator.state.set_following(user, True)
    clock.current = OVER
    yield Season(factory, settings, emulator, clock, FakeTime(), users)
    assert emulator.state.violations == []


# -- coupons sent ---------------------------------------------------------------------------


def test_the_coupons_a_message_carries_are_sent_when_line_accepts_it(season: Season) -> None:
    assert season.plan() == 2
    assert [c.sent_at for c in season.coupons()] == [None] * 10

    report = season.drain()

    assert report.sent == 2
    # Each fan's message carries the three soonest-expiring coupons; the other two are in マイクーポン only.
    sent = [(c.fan_id, c.campaign_id, c.sent_at) for c in season.coupons() if c.sent_at is not None]
    assert len(sent) == 2 * MAX_CARDS and {at for _, _, at in sent} == {OVER}
    with season.factory() as session:
        carried = set(
            session.execute(
                select(OutboxMessage.fan_id, Coupon.campaign_id)
                .join(OutboxCoupon, OutboxCoupon.retry_key == OutboxMessage.retry_key)
                .join(Coupon, Coupon.id == OutboxCoupon.coupon_id)
                .where(OutboxCoupon.carried.is_(True))
            ).tuples()
        )
    assert {(fan, campaign) for fan, campaign, _ in sent} == carried
    for words_and_cards in season.received():
        assert len(words_and_cards[1]["contents"]["contents"]) == MAX_CARDS


def test_a_retry_answered_409_marks_the_coupons_sent_once(season: Season) -> None:
    season.plan()
    season.settings = season.settings.with_overrides(line_timeout_seconds=0.3)
    release = season.emulator.state.inject_stall(PUSH)

    # The first push reaches LINE, but its answer never comes back: not known to be sent yet.
    first = season.drain()
    release.set()
    after_first = Counter(c.sent_at for c in season.coupons())
    season.clock.advance(minutes=5)
    second = season.drain()

    assert (first.sent, first.transport_errors, second.sent, second.already_accepted) == (1, 1, 1, 1)
    assert after_first == Counter({OVER: MAX_CARDS, None: 2 * 2 + MAX_CARDS})
    # The retry's 409 is the same message: its coupons are sent now, once; nobody got two messages.
    assert Counter(c.sent_at for c in season.coupons()) == Counter(
        {OVER: MAX_CARDS, OVER + timedelta(minutes=5): MAX_CARDS, None: 2 * 2}
    )
    assert season.pushes() == [200, 200, 409]
    assert [len(messages) for messages in season.received()] == [2, 2]
    assert season.states() == {"sent": 2}


# -- a game postponed after its send was planned ---------------------------------------------


def test_a_game_postponed_after_its_send_was_planned_sends_nothing_more(
    season: Season, database_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.commands.sends import sends

    season.plan()
    # One fan's message went out before the postponement; the other's had not yet.
    assert season.drain(limit=1).sent == 1
    sent_to, waiting = season.users if season.received()[0] else season.users[::-1]

    with season.factory() as session, session.begin():
        done = postpone_game(session, "home", season.clock())
    report = season.drain()

    assert (done.cancelled, done.voided) == (1, MAX_CARDS + 2)
    assert "1 件を取り消し" in done.called_off
    assert report.requests == 0 and season.pushes() == [200]
    assert len(season.emulator.state.messages_for(sent_to)) == 2
    assert season.emulator.state.messages_for(waiting) == []
    assert season.states() == {"sent": 1, "cancelled": 1}
    with season.factory() as session:
        sent_fan, waiting_fan = _fan_id(session, sent_to), _fan_id(session, waiting)
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.fan_id == waiting_fan)).one()
        assert (row.state, row.last_error) == ("cancelled", POSTPONED)
        game = session.scalars(select(Game).where(Game.key == "home")).one()
        # Due again once the game gets its new date and ends.
        assert (game.state, game.post_game_state) == ("postponed", None)
    # The sent message's coupons stay; the cancelled one's (carried, and issued with it) are void.
    assert {(c.fan_id, c.state) for c in season.coupons()} == {(sent_fan, "issued"), (waiting_fan, "void")}
    with season.factory() as session, session.begin():
        assert usable_coupons(session, waiting_fan, season.clock()) == []
        assert len(usable_coupons(session, sent_fan, season.clock())) == MAX_CARDS + 2
        voided = session.scalars(select(Coupon).where(Coupon.fan_id == waiting_fan)).first()
        assert voided is not None
        refused = redeem(session, voided.code, voided.partner_id, season.clock())
        assert not refused.ok and refused.reason == "unknown"

    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(sends, ["show", "home"], env={"DATABASE_URL": database_url})
    assert shown.exit_code == 0, shown.output
    assert "cancelled 1" in shown.output and f"cancelled 1: {POSTPONED}" in shown.output


def test_when_the_postponed_game_is_played_the_fans_whose_send_was_called_off_get_it(season: Season) -> None:
    from data.games import import_games, parse_games_csv

    season.plan()
    assert season.drain(limit=1).sent == 1
    sent_to, waiting = season.users if season.received()[0] else season.users[::-1]
    with season.factory() as session, session.begin():
        postpone_game(session, "home", season.clock())
    # A week later: the schedule gives the game its new date, and it is played.
    new_date = "key,tipoff,opponent,home_away\nhome,2026-12-05 15:05,仙台89ERS,home\n"
    season.clock.advance(days=3)
    with season.factory() as session, session.begin():
        import_games(session, parse_games_csv(new_date), season.clock())
    season.clock.advance(days=4)
    with season.factory() as session, session.begin():
        mark_final(session, "home", "90-70", season.clock())

    assert season.plan() == 1  # only the fan whose message was called off
    season.drain()

    assert len(season.emulator.state.messages_for(sent_to)) == 2  # nothing more
    words, cards = season.emulator.state.messages_for(waiting)
    assert words["type"] == "text"
    assert len(cards["contents"]["contents"]) == MAX_CARDS
    with season.factory() as session:
        waiting_fan = _fan_id(session, waiting)
    held = Counter(c.state for c in season.coupons() if c.fan_id == waiting_fan)
    # The called-off coupons stay void; the new ones are usable.
    assert held == Counter({"void": MAX_CARDS + 2, "issued": MAX_CARDS + 2})
    with season.factory() as session:
        assert len(usable_coupons(session, waiting_fan, season.clock())) == MAX_CARDS + 2


def _fan_id(session: Session, user: str) -> int:
    return session.scalars(select(Fan.id).where(Fan.line_user_id == user)).one()


def test_postponing_from_the_command_line_calls_the_send_off(
    season: Season, database_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.commands.games import games

    season.plan()
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(games, ["postpone", "home"], env={"DATABASE_URL": database_url})

    assert done.exit_code == 0, done.output
    assert "延期: home" in done.output and "2 件を取り消し" in done.output
    assert season.drain().requests == 0
    assert season.states() == {"cancelled": 2}
    assert {c.state for c in season.coupons()} == {"void"}


def test_a_final_game_cannot_be_postponed_and_keeps_its_send(season: Season) -> None:
    with season.factory() as session, session.begin():
        mark_final(session, "home", "85-79", season.clock())
    season.plan()
    with season.factory() as session, session.begin(), pytest.raises(GameError, match="終了しているため"):
        postpone_game(session, "home", season.clock())
    assert season.drain().sent == 2


def test_a_message_on_its_way_when_the_game_is_postponed_is_recorded_sent_if_line_took_it(
    season: Season,
) -> None:
    season.plan()
    now = season.clock()
    with season.factory() as session, session.begin():
        claimed = claim_batch(session, 2, now, consent_version=season.settings.consent_version)
        game_id = session.scalars(select(Game.id).where(Game.key == "home")).one()
    taken, refused = claimed.deliveries
    with season.factory() as session, session.begin():
        assert cancel_game(session, game_id, reason=POSTPONED) == 2
    with season.factory() as session, session.begin():
        # LINE accepted one of them meanwhile; the other was answered 500 (to be retried: not any more).
        record_outcomes(
            session,
            [
                Outcome(taken.row_ids, "sent", request_id="req-1"),
                Outcome(refused.row_ids, "pending", "LINE API error 500", next_attempt_at=now),
            ],
            now,
        )
    assert season.states() == {"sent": 1, "cancelled": 1}
    with season.factory() as session, session.begin():
        again = claim_batch(session, 10, now + timedelta(hours=1), consent_version="2026-11")
    assert again.deliveries == []
