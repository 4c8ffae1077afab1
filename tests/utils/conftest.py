import pytest

from irc.frontend import realize


@pytest.fixture(autouse=True)
def reference_realization(monkeypatch):
    """Frontend tests check the recorded graphs with the hl numpy reference (fast, no codegen): the interpret tier."""
    monkeypatch.setattr(realize, "_cache", {})
    with realize.set_eager_mode("interpret"):
        yield
