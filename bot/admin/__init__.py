"""The marketers' web pages under ``/admin``."""

from bot.admin import accounts, survey_pages, views
from bot.admin.blueprint import bp

__all__ = ["accounts", "bp", "survey_pages", "views"]
