import os
import shutil
import sys
import tempfile

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Compiled programs go to one cache per test session (docs/cache.md), shared with the subprocesses
# tests start, never to the user's ~/.cache/irc; a cache directory set in the environment is used as is.
_SESSION_CACHE = None if "IRC_CACHE_DIR" in os.environ else tempfile.mkdtemp(prefix="irc-test-cache-")
if _SESSION_CACHE is not None:
    os.environ["IRC_CACHE_DIR"] = _SESSION_CACHE


def pytest_sessionfinish(session, exitstatus):
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)

