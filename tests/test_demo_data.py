from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.settings import CONSENT_VERSION
from data.answer_frame import answers_frame
from data.catalog import load_catalog
from data.demo import load_demo_data
from data.models import Answer, Fan
from segmentation import correlate


def test_demo_data_loads_once_and_shows_the_sports_and_sento_finding(db_session: Session) -> None:
    catalog = load_catalog()
    assert load_demo_data(db_session, catalog, respondents=600) == 600
    assert load_demo_data(db_session, catalog, respondents=600) == 0
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Fan).where(Fan.source == "demo")) == 600
    answers = db_session.scalar(select(func.count()).select_from(Answer)) or 0
    assert 0.3 * 600 * len(catalog) < answers < 0.8 * 600 * len(catalog)  # respondents skip items
    for answer in db_session.scalars(select(Answer).limit(2000)):
        assert catalog[answer.item_id].accepts(answer.value)
    pairs = correlate(answers_frame(db_session, catalog, CONSENT_VERSION))
    finding = pairs[(pairs.item_a == "watches_sports_live_yearly") & (pairs.item_b == "likes_super_sento")]
    assert len(finding) == 1
    assert float(finding.r.iloc[0]) > 0.2
    assert float(finding.q.iloc[0]) < 0.05
