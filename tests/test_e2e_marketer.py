"""The marketer's journey in headless Chromium on the demo data; screenshots saved under var/screenshots."""

from __future__ import annotations

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
