"""The eager interpreter tier (`irc.interpreters.prepared.Prepared`) against the reference it
prepares: `run_hl` on the same hl function, for random programs with their gradients, the
transposed-product peephole, and values that die, are returned or are inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import irc
import irc.nn as nn
import irc.optim as optim
from irc.frontend import realize
from irc.interpreters.prepared import Prepared
from irc.interpreters.reference import run_hl
from irc.ir import parse_module
from tests.e2e.test_random_graphs import build, programs


@pytest.fixture
def interpreted(monkeypatch):
    """The (module, inputs) of every program the interpreter tier runs while the test runs."""
    runs = []
    interpret = realize._interpret

    def recording(program, values):
        runs.append((program.module, [np.asarray(v) for v in values]))
        return interpret(program, values)

    monkeypatch.setattr(realize, "_interpret", recording)
    with realize.set_eager_mode("interpret"):
        yield runs


def assert_same(got, want, exact=True):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs(), seed=st.integers(0, 2**16))
def test_random_programs_and_gradients_equal_the_reference(interpreted, program, seed):
    shapes, dtype, steps = program
    m, n, k = shapes
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((m, n), (m, n), (n, k))]
    inputs = [irc.tensor(a, requires_grad=True) for a in arrays]
    out = build(shapes, steps)(*inputs)
    if out.requires_grad:
        out.sum().backward()
    realize.realize_all([t._node for t in [out, *(x.grad for x in inputs if x.grad is not None)]])
    assert interpreted
    for module, values in interpreted:
        # the transposed product may round differently in BLAS: close, not bit-equal
        assert_same(Prepared(module)(values), run_hl(module, values), exact=False)
    interpreted.clear()


TRANSPOSED_PRODUCT = """
func.func @main(%a: tensor<5x3xf32>, %b: tensor<3x4xf32>) -> (tensor<4x5xf32>, tensor<4x5xf32>) {
  %p = hl.matmul %a, %b : (tensor<5x3xf32>, tensor<3x4xf32>) -> tensor<5x4xf32>
  %t = hl.transpose %p {perm = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %u = hl.neg %t : (tensor<4x5xf32>) -> tensor<4x5xf32>
  func.return %t, %u : tensor<4x5xf32>, tensor<4x5xf32>
}
"""


def test_a_transposed_product_is_computed_transposed(rng):
    module = parse_module(TRANSPOSED_PRODUCT)
    a, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    prepared = Prepared(module)
    assert [s.op.name for s in prepared.steps] == ["hl.transpose", "hl.neg"]  # the matmul is part of the first
    t, u = prepared([a, b])
    assert t.flags.c_contiguous and t.flags.owndata  # no view to copy
    np.testing.assert_allclose(t, (a @ b).T, rtol=1e-6)
    np.testing.assert_array_equal(u, -t)


def test_a_product_with_other_uses_is_not_fused(rng):
    module = parse_module(TRANSPOSED_PRODUCT.replace("func.return %t, %u", "func.return %p, %u").replace(
        "-> (tensor<4x5xf32>, tensor<4x5xf32>)", "-> (tensor<5x4xf32>, tensor<4x5xf32>)").replace(
        ": tensor<4x5xf32>, tensor<4x5xf32>\n}", ": tensor<5x4xf32>, tensor<4x5xf32>\n}"))  # fmt: skip
    a, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    prepared = Prepared(module)
    assert [s.op.name for s in prepared.steps] == ["hl.matmul", "hl.transpose", "hl.neg"]
    assert_same(prepared([a, b]), run_hl(module, [a, b]))


def test_inputs_outputs_and_dead_values(rng):
    module = parse_module("""
func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %e = hl.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %d = hl.add %e, %e : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s = hl.mul %d, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = hl.sub %s, %d : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %x, %d, %r : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
""")
    x = rng.standard_normal(4).astype(np.float32)
    prepared = Prepared(module)
    assert [s.frees for s in prepared.steps] == [[], [1], [], [3]]  # %e after the add, %s after the sub
    assert_same(prepared([x]), run_hl(module, [x]))
    with pytest.raises(ValueError, match=r"input 0 of @main: expected \(4,\) float32"):
        prepared([x.astype(np.float64)])


def test_mlp_training_step_equals_the_reference(interpreted, rng):
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = irc.tensor(rng.standard_normal((8, 12)).astype(np.float32)), irc.tensor(rng.integers(0, 3, 8))
    opt.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    opt.step()
    (module, values), *_ = interpreted
    prepared = Prepared(module)
    assert any(step.op.name == "hl.transpose" and len(step.operands) == 2 for step in prepared.steps)
    assert_same(prepared(values), run_hl(module, values), exact=False)
    grad = model[0].weight.grad.numpy()
    assert grad.flags.c_contiguous


def test_out_of_memory_names_the_function_and_op(monkeypatch, rng):
    from irc.errors import ExecutionError

    module = parse_module(TRANSPOSED_PRODUCT)
    run = Prepared(module)

    def no_memory(*args):
        raise MemoryError

    run.steps[1].evaluate = no_memory  # the neg
    a, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    with pytest.raises(ExecutionError, match=r"@main: out of memory evaluating hl.neg \(tensor<4x5xf32>\)"):
        run([a, b])
    with pytest.raises(ValueError, match="@main takes 2 inputs, got 1"):
        run([a])


def test_constants_are_computed_once_and_read_only():
    module = parse_module("""
func.func @main(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %c = hl.full {value = 2.0 : f64} : tensor<3xf32>
  %i = hl.iota {dim = 0 : i64} : tensor<3xf32>
  %y = hl.mul %x, %c : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %z = hl.add %y, %i : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %z, %c : tensor<3xf32>, tensor<3xf32>
}
""")
    x = np.array([1.0, -1.0, 0.5], np.float32)
    prepared = Prepared(module)
    assert [s.op.name for s in prepared.steps] == ["hl.mul", "hl.add"]
    z, c = prepared([x])
    assert_same([z, c], run_hl(module, [x]))
    assert not c.flags.writeable  # the same array at every run: nobody may write to it
    assert_same(prepared([x]), run_hl(module, [x]))


def test_an_eager_output_that_is_a_constant_is_an_array_of_its_own():
    with realize.set_eager_mode("interpret"):
        a = irc.zeros(3) + 0  # a constant-folded graph may return the constant itself
        b = irc.zeros(3) + 0
        a_value = a.numpy()
        assert a_value.flags.writeable
        np.testing.assert_array_equal(b.numpy(), np.zeros(3, np.float32))
