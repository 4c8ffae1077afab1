"""Every stage of both examples is valid and computes the same thing.

* `linalg`, `buffers`, `loops` dumps are accepted by upstream mlir-opt (no flags),
* `hl` prints -> parses -> prints identically,
* `hl-opt`, `linalg`, `buffers`, `loops` (interpreters) and the compiled code
  all equal the hl numpy reference, on small versions of the examples.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import irc
from irc.compiler.pipeline import Pipeline
from irc.frontend.tracing import trace
from irc.interpreters.reference import run_hl
from irc.ir import parse_module, print_module
from tests.helpers import mlir_opt_accepts

EXAMPLES = Path(__file__).parents[2] / "examples"

# small input shapes, so the stage interpreters run in milliseconds
SMALL = {
    "mlp": [(4, 12), (12, 8), (8,), (8, 5), (5,)],
    "convnet": [(2, 1, 6, 6), (3, 1, 3, 3), (3,), (4, 3 * 3 * 3), (4,)],
}


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.fixture(scope="module", params=["mlp", "convnet"])
def example(request):
    fn = load_example(request.param)
    specs = irc.frontend.jit.example_inputs_of(fn)
    return request.param, fn, specs


@pytest.mark.parametrize("stage", ["linalg", "buffers", "loops"])
def test_stage_accepted_by_mlir_opt(example, stage):
    name, fn, specs = example
    lowering = Pipeline(target="llvm", stop_after="loops").run(trace(fn, specs))
    mlir_opt_accepts(lowering.stages[stage])


def test_hl_round_trips(example):
    name, fn, specs = example
    text = print_module(trace(fn, specs), locations=True)
    assert print_module(parse_module(text), locations=True) == text
    assert f"{name}.py" in text  # ops carry the user's source locations


def test_every_stage_computes_the_reference(example):
    name, fn, _ = example
    specs = [irc.Spec(s) for s in SMALL[name]]
    rng = np.random.default_rng(1)
    arrays = [s.random(rng) for s in specs]
    (expected,) = run_hl(trace(fn, specs), arrays)
    lowering = Pipeline(target="llvm").run(trace(fn, specs))
    for stage in ["hl-opt", "linalg", "buffers", "loops", "target"]:
        (got,) = lowering.execute(stage, *arrays)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"stage {stage}")
