"""After the game, as `make run` serves it: mark the home game final, and the matched demo fans (and
only they) find the post-game coupon card in the emulator, delivered through the outbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from bot.commands.games import games
from bot.demo_coupons import DEMO_FANS, DEMO_POSTGAME_TITLE, add_demo_fans_to_emulator, seed_demo_coupons
from bot.postgame import send_time
from bot.scheduler import run_scheduler
from coupons.models import AudienceMember, Campaign
from data.catalog import load_catalog
from data.database import normalize_url
from data.demo import demo_season
from data.games import Game, import_games
from data.models import Fan, utcnow
from tests.test_e2e_browser import CHROMIUM, SCREENSHOT_DIR, Product, product, require_chromium  # noqa: F401
from tests.viewport import PHONE

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(product: Product) -> Iterator[Page]:  # noqa: F811
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser.new_page(viewport=PHONE)
        browser.close()


def test_marking_the_home_game_final_delivers_the_post_game_card_to_matched_fans_only(
    product: Product,  # noqa: F811
    phone: Page,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    settings = product.app.extensions["fanbot.settings"]
    engine = create_engine(normalize_url(product.database_url))
    now = utcnow()
    with Session(engine) as session:
        seed_demo_coupons(session, load_catalog(), settings.consent_version, now)
        import_games(session, demo_season(now), now)
        # The campaign sent at start is not this test's; the post-game one is.
        others = update(Campaign).where(Campaign.title != DEMO_POSTGAME_TITLE).values(state="paused")
        session.execute(others)
        game = session.scalars(
            select(Game).where(Game.home.is_(True), Game.tipoff_at < now).order_by(Game.tipoff_at.desc())
        ).first()
        assert game is not None
        key = game.key
        session.commit()
    add_demo_fans_to_emulator(product.app)

    # The marketer marks the game over from the command line, as the README says.
    monkeypatch.chdir(tmp_path)
    marked = CliRunner().invoke(
        games, ["final", key, "--score", "85-79"], env={"DATABASE_URL": product.database_url}
    )
    assert marked.exit_code == 0, marked.output

    # The scheduler (its own thread here, its own process in `make run`) finds it and sends.
    stop = threading.Event()

    # The scheduler's clock is the real one; if the game ended in the quiet hours (22:00-08:00 JST) the
    # cards wait for 08:00, so once the post-game job has run the clock jumps to that morning.
    moment = [utcnow()]
    worker = threading.Thread(target=run_scheduler, args=(settings, load_catalog(), lambda: moment[0], stop))
    worker.start()
    state = product.app.extensions["line_emulator_app"].extensions["line_emulator"]
    matched = [user for user, _, answers in DEMO_FANS if answers.get("likes_super_sento") == 1]
    try:
        for _ in range(600):
            with Session(engine) as session:
                done = session.scalar(select(Game.post_game_state).where(Game.key == key)) == "done"
            if done:
                morning = send_time(moment[0], "wait")
                if morning is not None and morning > moment[0]:
                    moment[0] = morning + timedelta(seconds=1)
            if any(state.messages_for(user) for user in matched):
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=30)

    with Session(engine) as session:
        holdout = set(
            session.scalars(
                select(Fan.line_user_id)
                .join(AudienceMember, AudienceMember.fan_id == Fan.id)
                .join(Campaign, Campaign.id == AudienceMember.campaign_id)
                .where(Campaign.title == DEMO_POSTGAME_TITLE, AudienceMember.group == "holdout")
            )
        )
    engine.dispose()
    targeted = [user for user in matched if user not in holdout]
    assert targeted, "every demo fan fell in the holdout"
    for user in targeted:
        assert [m["type"] for m in state.messages_for(user)] == ["text", "flex"]
    for user, _, _ in DEMO_FANS:
        if user not in targeted:
            assert state.messages_for(user) == []  # not matched, or held out to measure uplift

    phone.goto(f"{product.url}/emulator/")
    phone.click(f'[data-user-id="{targeted[0]}"]')
    expect(phone.locator(".row.bot .bubble", has_text="勝利おめでとうございます")).to_have_count(1)
    card = phone.locator(".flex-message", has_text="岩盤浴が無料")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("有効期限：")
    phone.screenshot(path=str(SCREENSHOT_DIR / "fanbot-postgame-card.png"))
