import gc
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


def pytest_collection_modifyitems(config, items):
    # The tests marked slow (whole-model compiles of 10-30 s) first: pytest-xdist hands out tests in
    # this order, so the long ones no longer come last, leaving the other test process idle meanwhile
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_collection_finish(session):
    # What collection imported (torch, xDSL, TVM's Python side, the test modules) lives to the end of
    # the run: frozen, it is no longer walked by every full collection of Python's cyclic collector
    gc.freeze()
    # and it runs less often: the tests allocate many short-lived objects (IR, traced graphs); with
    # the default thresholds the collector took 7-8 % of the suite's CPU time, with these ~3 %
    gc.set_threshold(20_000, 20, 20)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
