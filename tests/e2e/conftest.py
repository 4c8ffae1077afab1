import pytest

from irc.frontend import realize


@pytest.fixture(autouse=True)
def compiled_realization():
    """End-to-end tests run eager graphs through the compiler from their first run (the compile tier)."""
    with realize.set_eager_mode("compile"):
        yield
