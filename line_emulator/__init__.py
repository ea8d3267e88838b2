"""Local LINE emulator: a fake Messaging API plus a chat page where a person plays a fan.

A development and demo tool; the product mounts it only when ``LINE_API_BASE_URL``
points at it.
"""

from line_emulator.app import create_emulator_app
from line_emulator.config import EmulatorConfig
from line_emulator.state import EmulatorState

__all__ = ["EmulatorConfig", "EmulatorState", "create_emulator_app"]
