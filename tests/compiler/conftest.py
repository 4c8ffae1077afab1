"""Fixtures shared by the compiler tests (defined with the test passes in tests/compiler/pipeline_fixtures.py)."""

from tests.compiler.pipeline_fixtures import hl_file, identity_hl_opt  # noqa: F401
