from tests.nn.conftest import compile_tier, interpret_tier, reference_jit  # noqa: F401
