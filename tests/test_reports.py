"""Campaign reports: issued, redeemed, and visit uplift of targeted fans over the holdout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session
from statsmodels.stats.proportion import confint_proportions_2indep

from coupons.models import AudienceMember, Campaign, Coupon
from coupons.partners import create_partner
from coupons.reports import campaign_report, partner_reports
from coupons.visits import Visit
from data.models import Fan

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def plant(
    session: Session, *, targeted: int, holdout: int, p_targeted: float, p_holdout: float, seed: int
) -> tuple[int, int, int]:
    """A campaign whose targeted fans visit with p_targeted, holdout fans with p_holdout; ids and visitors."""
    rng = np.random.default_rng(seed)
    partner = create_partner(session, name="仙台の湯", access_code="secret-code-1", now=START)
    other = create_partner(session, name="別の店", access_code="secret-code-2", now=START)
    campaign = Campaign(
        partner_id=partner.id, title="試合後の一風呂", offer_text="入浴料100円引き", state="active"
    )
    session.add(campaign)
    session.flush()
    visitors = {"targeted": 0, "holdout": 0}
    for group, size, p in (("targeted", targeted, p_targeted), ("holdout", holdout, p_holdout)):
        for index in range(size):
            fan = Fan(line_user_id=f"U{group}{index}", source="line", created_at=START)
            session.add(fan)
            session.flush()
            session.add(
                AudienceMember(campaign_id=campaign.id, fan_id=fan.id, group=group, recorded_at=START)
            )
            if group == "targeted":
                session.add(
                    Coupon(
                        campaign_id=campaign.id,
                        partner_id=partner.id,
                        fan_id=fan.id,
                        code=f"C{index:08d}",
                        offer_title="x",
                        offer_text="x",
                        issued_at=START,
                        sent_at=START if index % 2 == 0 else None,
                        valid_from=START,
                        expires_at=START + timedelta(days=7),
                        redeemed_at=START + timedelta(hours=2) if index % 4 == 0 else None,
                        state="redeemed" if index % 4 == 0 else "issued",
                    )
                )
            if rng.random() < p:
                visitors[group] += 1
                when = START + timedelta(days=float(rng.uniform(0, 6.9)))
                session.add(
                    Visit(fan_id=fan.id, partner_id=partner.id, visited_on=when.date(), visited_at=when)
                )
            # Noise that must not count: visits elsewhere, and visits after the window.
            session.add(Visit(fan_id=fan.id, partner_id=other.id, visited_on=START.date(), visited_at=START))
            late = START + timedelta(days=9)
            session.add(Visit(fan_id=fan.id, partner_id=partner.id, visited_on=late.date(), visited_at=late))
    session.flush()
    return campaign.id, visitors["targeted"], visitors["holdout"]


def test_report_counts_and_uplift_match_the_planted_data_and_statsmodels(db_session: Session) -> None:
    campaign_id, t_visitors, h_visitors = plant(
        db_session, targeted=400, holdout=100, p_targeted=0.20, p_holdout=0.06, seed=9
    )
    report = campaign_report(db_session, campaign_id, window_days=7)
    assert report is not None
    assert (report.issued, report.sent, report.redeemed) == (400, 200, 100)
    assert report.started_at == START
    assert (report.uplift.targeted_visitors, report.uplift.targeted) == (t_visitors, 400)
    assert (report.uplift.holdout_visitors, report.uplift.holdout) == (h_visitors, 100)
    reference = confint_proportions_2indep(t_visitors, 400, h_visitors, 100, method="newcomb", compare="diff")
    assert report.uplift.interval == pytest.approx(reference, abs=1e-9)
    assert report.uplift.shown
    assert [r.campaign_id for r in partner_reports(db_session, report.partner_id)] == [campaign_id]


def test_a_shorter_window_counts_fewer_visits(db_session: Session) -> None:
    campaign_id, _, _ = plant(db_session, targeted=50, holdout=20, p_targeted=0.5, p_holdout=0.5, seed=3)
    week = campaign_report(db_session, campaign_id, window_days=7)
    day = campaign_report(db_session, campaign_id, window_days=1)
    assert week is not None and day is not None
    assert day.uplift.targeted_visitors <= week.uplift.targeted_visitors
    with pytest.raises(ValueError, match="window_days"):
        campaign_report(db_session, campaign_id, window_days=0)


def test_unknown_campaign_has_no_report(db_session: Session) -> None:
    assert campaign_report(db_session, 999) is None


def test_report_page_shows_the_sentence_method_and_offers_csv(admin_client, session: Session) -> None:  # type: ignore[no-untyped-def]
    campaign_id, t_visitors, _ = plant(
        session, targeted=400, holdout=100, p_targeted=0.20, p_holdout=0.06, seed=9
    )
    session.commit()
    html = admin_client.get(f"/admin/campaigns/{campaign_id}/report").get_data(as_text=True)
    assert f"クーポンを受け取ったファンの来店率は {t_visitors / 400 * 100:.1f}%" in html
    assert "95%信頼区間" in html
    assert "Newcombe" in html
    csv_text = admin_client.get(f"/admin/campaigns/{campaign_id}/report.csv").get_data(as_text=True)
    header, row = csv_text.lstrip("\ufeff").splitlines()[:2]
    assert header.startswith("campaign_id,campaign,shop,issued,sent,redeemed")
    assert row.split(",")[3:6] == ["400", "200", "100"]
    assert "LINE で届けたクーポン" in html
    assert admin_client.get(f"/admin/campaigns/{campaign_id}/report?days=0").status_code == 400
    assert admin_client.get("/admin/campaigns/999/report").status_code == 404
    report = campaign_report(session, campaign_id)
    assert report is not None
    shop = admin_client.get(f"/admin/partners/{report.partner_id}/report").get_data(as_text=True)
    assert "試合後の一風呂" in shop
