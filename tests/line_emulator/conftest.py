"""Fixtures shared by the emulator's tests; each test module builds its own emulator ``app``."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from line_emulator.state import EmulatorState


@pytest.fixture
def state(app: Flask) -> EmulatorState:
    state: EmulatorState = app.extensions["line_emulator"]
    return state


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
