"""Fixtures shared by the driver tests."""

import pytest
from driver_test_passes import HL_TEXT, register

from irc.driver import pipeline


@pytest.fixture
def hl_file(tmp_path):
    """HL_TEXT as `prog.mlir` in a fresh directory."""
    path = tmp_path / "prog.mlir"
    path.write_text(HL_TEXT)
    return path


@pytest.fixture
def identity_hl_opt(monkeypatch):
    """The hl-opt passes are the identity (tests that replace one of them, or need hl-opt as written)."""
    register(monkeypatch, {name: "test-identity" for name in pipeline.STAGES[1].passes})
