"""The marketer's journey in headless Chromium on the demo data; screenshots saved under var/screenshots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.commands.run import DEMO_MARKETER_EMAIL, DEMO_MARKETER_PASSWORD, ensure_demo_marketer
from data.database import make_engine, make_session_factory
from data.demo import load_demo_data
from tests.test_e2e_browser import Product, page, product  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"


def load_demo(database_url: str, respondents: int) -> None:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session, session.begin():
        load_demo_data(session, respondents=respondents)
        ensure_demo_marketer(session)
    engine.dispose()


def shot(browser_page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def sign_in(browser_page: object, url: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(browser_page, Page)
    browser_page.goto(url + "/admin/")
    browser_page.fill("input[name=email]", DEMO_MARKETER_EMAIL)
    browser_page.fill("input[name=password]", DEMO_MARKETER_PASSWORD)
    browser_page.click("button.primary")


def test_marketer_signs_in_reads_the_dashboard_and_runs_the_analysis(
    product: Product,  # noqa: F811
    page: object,  # noqa: F811
    database_url: str,
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    load_demo(database_url, respondents=300)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session, session.begin():
        from coupons.partners import create_partner
        from data.models import utcnow

        create_partner(session, name="湯の郷 アリーナ前店", access_code="sento-2026", now=utcnow())
    engine.dispose()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, product.url)
    expect(page.locator("h1")).to_have_text("ダッシュボード")
    expect(page.locator("#anonymous")).to_have_text("300")
    expect(page.locator("svg.chart .bar")).to_have_count(30)
    shot(page, "admin-dashboard")

    page.click("nav >> text=アンケート")
    expect(page.locator("h1")).to_contain_text("回答者 300人")
    shot(page, "admin-survey")

    page.click("nav >> text=分析")
    page.click("text=いまの回答で分析する")
    expect(page.locator("#job")).to_contain_text("分析中")
    shot(page, "admin-analysis-running")
    # The page reloads itself every 2 s until the job row says done.
    expect(page.locator("#result")).to_be_visible(timeout=90_000)
    expect(page.locator("#significant")).not_to_have_text("0組")
    shot(page, "admin-analysis")

    page.click("text=スポーツ × スポーツ以外")
    cell = page.locator("svg.heatmap g.cell").first
    expect(cell.locator("title")).to_contain_text("n = ")
    shot(page, "admin-analysis-heatmap-sports")

    page.go_back()
    page.click("text=組み合わせの一覧")
    page.fill("input[name=item]", "銭湯")
    page.click("text=絞り込む")
    expect(page.locator("#pairs tbody tr").first).to_contain_text("スーパー銭湯")
    shot(page, "admin-analysis-pairs")

    # From the finding to a campaign: the pair fills the rule, the preview shows who it reaches.
    page.locator("#pairs tbody tr").first.locator("text=このペアでキャンペーンを作る").click()
    expect(page.locator("h1")).to_have_text("キャンペーンの作成")
    expect(page.locator("select[name=item0] option:checked")).not_to_have_text("（条件なし）")
    page.select_option("select[name=partner_id]", label="湯の郷 アリーナ前店")
    page.fill("input[name=title]", "試合の後はひとっ風呂")
    page.fill("input[name=offer_text]", "入館料から200円引き")
    shot(page, "admin-campaign-form")
    page.click("text=保存して配信対象を確認")
    expect(page.locator("#campaign-state")).to_have_text("下書き")
    expect(page.locator("#audience-preview")).to_contain_text("クーポンを配るファン")
    expect(page.locator("#quota")).to_contain_text("通")
    page.click("#run-scoring")
    expect(page.locator(".flash")).to_contain_text("予測スコアを計算しました")
    expect(page.locator("#audience-preview")).to_contain_text("交差検証 AUC")
    shot(page, "admin-campaign-preview")
    page.click("button:has-text('有効にする')")
    expect(page.locator("#campaign-state")).to_have_text("配信中")
    assert errors == []


def test_a_fan_scans_the_shops_check_in_qr_in_the_emulator_and_the_visit_is_recorded(
    product: Product,  # noqa: F811
    page: object,  # noqa: F811
    database_url: str,
) -> None:
    from playwright.sync_api import Page, expect
    from sqlalchemy import func, select

    from coupons.partners import create_partner
    from coupons.visits import Visit
    from data.models import utcnow

    assert isinstance(page, Page)
    load_demo(database_url, respondents=10)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session, session.begin():
        create_partner(
            session, name="仙台の湯", category="スーパー銭湯", access_code="secret-code-1", now=utcnow()
        )

    sign_in(page, product.url)
    page.click("nav >> text=店舗")
    page.click("text=来店チェックインQR")
    expect(page.locator("img.qr")).to_be_visible()
    link = page.locator("#checkin-link").inner_text()
    shot(page, "admin-checkin-card")

    page.goto(product.url + "/emulator/")
    page.fill("#new-fan-name", "来店 太郎")
    page.click("text=新しいファンを作る")
    page.click("#btn-follow")
    page.locator("#quick-replies button", has_text="同意する").click()
    expect(page.locator(".row.bot .bubble", has_text="ご同意ありがとうございます")).to_have_count(1)
    page.click("#btn-scan")
    page.fill("#scan-url", link)
    page.click("#scan-form >> text=読み取る")
    expect(page.locator("#composer-text")).to_have_value(
        re.compile(r"^来店チェックイン [A-Z2-9]{8} 仙台の湯$")
    )
    expect(page.locator("#scan-form")).to_be_hidden()
    page.click("#composer >> text=送信")
    expect(page.locator(".row.bot .bubble", has_text="来店を記録しました")).to_have_count(1)
    shot(page, "emulator-checkin")
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 1
    engine.dispose()


def test_the_whole_marketer_journey_on_the_demo_from_a_finding_to_the_partner_report(
    product: Product,  # noqa: F811
    page: object,  # noqa: F811
) -> None:
    """`make run`'s demo, in a browser only: analysis, a campaign from a pair with its audience preview,
    the game marked final, coupons in the emulator for targeted fans, check-ins from both groups, the
    report with its interval. The screenshots under var/screenshots are named journey-NN-*."""
    import threading
    from datetime import timedelta

    from playwright.sync_api import Page, expect
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from bot.commands.run import seed_demo
    from bot.demo_coupons import DEMO_SHOP_NAME, add_demo_fans_to_emulator, send_demo_campaign
    from bot.postgame import send_time
    from bot.scheduler import run_scheduler
    from coupons.models import AudienceMember, Campaign
    from data.catalog import load_catalog
    from data.database import normalize_url
    from data.games import Game
    from data.models import Fan, utcnow
    from data.outbox import OutboxMessage

    assert isinstance(page, Page)
    settings = product.app.extensions["fanbot.settings"]
    # What `make run` does before serving: the demo data, then the demo fans and their first card.
    demo = seed_demo(settings)
    add_demo_fans_to_emulator(product.app)
    send_demo_campaign(settings, load_catalog(), demo.campaign_id, utcnow())
    engine = create_engine(normalize_url(product.database_url))
    with Session(engine) as session:
        today = session.scalars(select(Game).where(Game.key.like("demo-%-today"))).one()
        game_id, opponent = today.id, today.opponent
    # The scheduler, as `make run` starts it next to the server (a thread here). If the game ends in the
    # quiet hours (22:00-08:00 in Japan) the cards wait for 08:00: the clock then jumps to that morning.
    offset = [timedelta(0)]
    stop = threading.Event()
    scheduler = threading.Thread(
        target=run_scheduler, args=(settings, load_catalog(), lambda: utcnow() + offset[0], stop)
    )
    scheduler.start()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        sign_in(page, product.url)
        expect(page.locator("h1")).to_have_text("ダッシュボード")
        expect(page.locator("#next-game #planned-sends")).to_contain_text("ホームゲーム観戦の日は 岩盤浴無料")
        shot(page, "journey-01-dashboard")

        # The analysis, on the demo's answers.
        page.click("nav >> text=分析")
        page.click("text=いまの回答で分析する")
        expect(page.locator("#result")).to_be_visible(timeout=240_000)
        shot(page, "journey-02-analysis")
        page.click("text=組み合わせの一覧")
        page.fill("input[name=item]", "銭湯")
        page.click("text=絞り込む")
        # The demo's finding: fans who go to games often also go to super sento.
        pair = page.locator("#pairs tbody tr", has_text="live_games_per_year").first
        expect(pair).to_contain_text("スーパー銭湯")
        shot(page, "journey-03-pairs")

        # A campaign from the pair, for the demo shop, sent after today's home game.
        pair.locator("text=このペアでキャンペーンを作る").click()
        expect(page.locator("h1")).to_have_text("キャンペーンの作成")
        page.select_option("select[name=partner_id]", label=DEMO_SHOP_NAME)
        page.fill("input[name=title]", "観戦帰りのサウナ")
        page.fill("input[name=offer_text]", "サウナ利用料が半額")
        page.select_option("select[name=when]", value=str(game_id))
        # Half held out: with the demo's four matching LINE fans, both groups have someone to compare.
        page.fill("input[name=holdout_percent]", "50")
        shot(page, "journey-04-campaign-form")
        page.click("text=保存して配信対象を確認")
        expect(page.locator("#campaign-state")).to_have_text("下書き")
        expect(page.locator("#count-targeted")).not_to_have_text("0 人")
        expect(page.locator("#count-holdout")).not_to_have_text("0 人")
        expect(page.locator("#preview-sample tbody tr").first).to_contain_text("スーパー銭湯")
        shot(page, "journey-05-audience-preview")
        page.click("button:has-text('有効にする')")
        expect(page.locator("#campaign-state")).to_have_text("配信中")
        expect(page.locator("#campaign-when")).to_contain_text(f"vs {opponent} の後")
        with Session(engine) as session:
            campaign_id = session.scalars(
                select(Campaign.id).where(Campaign.title == "観戦帰りのサウナ")
            ).one()

        # The game's page: what will go out when it ends; then the marketer marks it final.
        page.click("nav >> text=試合")
        expect(page.locator(f"#games a[href='/admin/games/{game_id}#sends']")).to_have_text("予定を見る")
        shot(page, "journey-06-games")
        page.click(f"#games a[href='/admin/games/{game_id}']")
        planned = page.locator(f"#planned-sends tr[data-campaign='{campaign_id}']")
        expect(planned).to_contain_text("試合終了後に送ります")
        expect(planned.locator(".expected")).not_to_have_text("0 人")
        shot(page, "journey-07-game-planned")
        page.fill("#final-form input[name=score]", "85-79")
        page.click("#final-form button")
        expect(page.locator(".flash")).to_contain_text("試合終了として記録しました")

        # The scheduler finds the game over, issues and queues; the sender delivers.
        with Session(engine) as session:
            for _ in range(1200):
                done = session.scalar(select(Game.post_game_state).where(Game.id == game_id)) == "done"
                session.rollback()
                if done:
                    break
                threading.Event().wait(0.05)
            groups = {
                user: group
                for user, group in session.execute(
                    select(Fan.line_user_id, AudienceMember.group)
                    .join(AudienceMember, AudienceMember.fan_id == Fan.id)
                    .where(AudienceMember.campaign_id == campaign_id)
                )
            }
            morning = send_time(utcnow(), "wait")
            if morning is not None and morning > utcnow():
                offset[0] = morning - utcnow() + timedelta(seconds=1)
            unsent = select(func.count()).where(
                OutboxMessage.game_id == game_id, OutboxMessage.state.in_(("pending", "sending"))
            )
            for _ in range(1200):
                waiting = session.scalar(unsent)
                session.rollback()
                if waiting == 0:
                    break
                threading.Event().wait(0.05)
        targeted = [user for user, group in groups.items() if group == "targeted"]
        held_out = [user for user, group in groups.items() if group == "holdout"]
        assert targeted and held_out, groups

        page.goto(f"{product.url}/admin/games/{game_id}")
        expect(page.locator("#post-game")).to_contain_text("送信処理済み")
        expect(page.locator(f"#past-sends tr[data-campaign='{campaign_id}']")).to_be_visible()
        expect(page.locator("#past-sends .sent").first).not_to_have_text("0")
        shot(page, "journey-08-game-sent")

        # In the emulator: targeted fans have the card, held-out fans have not.
        emulator = product.app.extensions["line_emulator_app"].extensions["line_emulator"]
        for user in groups:
            payloads = json.dumps(emulator.messages_for(user), ensure_ascii=False)
            assert ("サウナ利用料が半額" in payloads) == (user in targeted), user
        page.goto(f"{product.url}/emulator/")
        page.click(f'[data-user-id="{targeted[0]}"]')
        card = page.locator(".flex-message", has_text="サウナ利用料が半額")
        expect(card).to_have_count(1)
        expect(card).to_contain_text(DEMO_SHOP_NAME)
        shot(page, "journey-09-emulator-coupon")

        # The shop's check-in QR, scanned at the counter by one fan of each group.
        page.goto(f"{product.url}/admin/partners")
        page.locator("#partners tr", has_text=DEMO_SHOP_NAME).locator("text=来店チェックインQR").click()
        link = page.locator("#checkin-link").inner_text()
        for user in (targeted[0], held_out[0]):
            page.goto(f"{product.url}/emulator/")
            page.click(f'[data-user-id="{user}"]')
            page.click("#btn-scan")
            page.fill("#scan-url", link)
            page.click("#scan-form >> text=読み取る")
            page.click("#composer >> text=送信")
            expect(page.locator(".row.bot .bubble", has_text="来店を記録しました")).to_have_count(1)
        shot(page, "journey-10-emulator-checkin")

        # The partner report: visit rates of both groups and the difference with its interval.
        page.goto(f"{product.url}/admin/campaigns")
        page.click("text=観戦帰りのサウナ")
        page.click("a:has-text('レポート')")
        sentence = page.locator(f"#sentence-{campaign_id}")
        expect(sentence).to_contain_text("95%信頼区間")
        rows = page.locator(f"#report-{campaign_id} table.data tbody tr")
        for row, size in ((rows.nth(0), len(targeted)), (rows.nth(1), len(held_out))):
            expect(row.locator("td").nth(1)).to_have_text(str(size))
            expect(row.locator("td").nth(2)).to_have_text("1")  # one check-in each
        shot(page, "journey-11-report")
    finally:
        stop.set()
        scheduler.join(timeout=30)
        engine.dispose()
    assert errors == []
