import pytest

from irc.frontend import realize
from irc.ir.interpreter import run_hl


@pytest.fixture(autouse=True)
def reference_realization(monkeypatch):
    """Frontend tests check the recorded graphs with the hl numpy reference (fast, no codegen)."""
    monkeypatch.setattr(realize, "_compiler", lambda module, target: lambda *a: run_hl(module, a))
    monkeypatch.setattr(realize, "_cache", {})
