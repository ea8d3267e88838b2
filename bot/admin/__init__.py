"""The marketers' web pages under ``/admin``."""

from bot.admin import accounts, views
from bot.admin.blueprint import bp

__all__ = ["accounts", "bp", "views"]
