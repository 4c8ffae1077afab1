"""irc.nn / irc.optim tests realize eager graphs with the hl numpy reference (the interpret tier), and jitted
functions through it too where a test asks for `reference_jit`; the tests that name `llvm` compile."""

import pytest

from irc.frontend import jit as jit_module
from irc.frontend import realize
from irc.interpreters.reference import run_hl


@pytest.fixture(autouse=True)
def interpret_tier(monkeypatch):
    monkeypatch.setattr(realize, "_cache", {})
    with realize.set_eager_mode("interpret"):
        yield


@pytest.fixture
def reference_jit(monkeypatch):
    monkeypatch.setattr(jit_module, "compile_cached", lambda module, target: lambda *a: run_hl(module, a))


@pytest.fixture
def compile_tier():
    """Eager graphs compiled (llvm) from their first run."""
    with realize.set_eager_mode("compile"):
        yield
