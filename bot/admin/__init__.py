"""The marketers' web pages under ``/admin``."""

from bot.admin.views import bp

__all__ = ["bp"]
