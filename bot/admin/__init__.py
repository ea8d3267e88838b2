"""The marketers' web pages under ``/admin``."""

from bot.admin import (
    accounts,
    analysis_pages,
    campaign_pages,
    game_pages,
    partner_pages,
    report_pages,
    survey_pages,
    views,
)
from bot.admin.blueprint import bp

__all__ = [
    "accounts",
    "analysis_pages",
    "bp",
    "campaign_pages",
    "game_pages",
    "partner_pages",
    "report_pages",
    "survey_pages",
    "views",
]
