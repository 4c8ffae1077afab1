"""The autodiff transformation on hl functions: every rule against finite differences
(gradcheck, with the hl numpy reference), forward mode against reverse mode, the
structure of gradient functions, second derivatives, errors and the hl-autodiff pass."""

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

import irc
import irc.nn.functional as F
from irc.compiler.registry import parse_pipeline
from irc.frontend.spec import Spec
from irc.frontend.tracing import trace
from irc.interpreters.reference import find_entry, run_hl
from irc.ir import hl, rules
from irc.ir.context import parse_module, print_module
from irc.testing import gradcheck
from irc.transforms.autodiff import AutodiffError, build_jvp, build_vjp, float_args

rng = np.random.default_rng(0)


def normal(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.random(shape) + 0.5


def weights(*shape):
    """Distinct fixed weights, so that a sum does not hide a wrong permutation."""
    return irc.tensor(np.arange(1.0, np.prod(shape) + 1).reshape(shape), dtype="float64")


# name -> (function of tensors, inputs); every differentiable hl op, with broadcasting
CASES = {
    "neg": (lambda x: -x, [normal(3, 4)]),
    "abs": (lambda x: x.abs(), [normal(3, 4)]),
    "exp": (lambda x: x.exp(), [normal(3, 4)]),
    "log": (lambda x: x.log(), [positive(3, 4)]),
    "sqrt": (lambda x: x.sqrt(), [positive(2, 3)]),
    "rsqrt": (lambda x: x.rsqrt(), [positive(2, 3)]),
    "tanh": (lambda x: x.tanh(), [normal(2, 3)]),
    "sigmoid": (lambda x: x.sigmoid(), [normal(2, 3)]),
    "relu": (lambda x: x.relu(), [normal(3, 4)]),
    "sin": (lambda x: x.sin(), [normal(5)]),
    "cos": (lambda x: x.cos(), [normal(5)]),
    "erf": (lambda x: x.erf(), [normal(2, 3)]),
    "add": (lambda a, b: a + b, [normal(3, 4), normal(4)]),
    "add_scalar": (lambda a, b: a + b, [normal(), normal(2, 3)]),
    "sub": (lambda a, b: a - b, [normal(3, 1), normal(4)]),
    "mul": (lambda a, b: a * b, [normal(2, 3, 4), normal(3, 1)]),
    "div": (lambda a, b: a / b, [normal(3, 4), positive(4)]),
    "floor_divide": (lambda a, b: a // b + a * b, [normal(3, 4), positive(4)]),  # piecewise constant: d(a // b) = 0
    "pow": (lambda a, b: a**b, [positive(3, 4), normal(4)]),
    "pow_neg_base": (lambda a: a**2.0, [normal(3, 4)]),
    "maximum": (lambda a, b: irc.maximum(a, b), [normal(3, 4), normal(4)]),
    "minimum": (lambda a, b: irc.minimum(a, b), [normal(1, 4), normal(3, 1)]),
    "where": (lambda c, a, b: irc.where(c > 0, a, b), [normal(3, 4), normal(3, 4), normal(4)]),
    "sum": (lambda x: x.sum(dim=1), [normal(3, 4)]),
    "sum_all_keepdim": (lambda x: x.sum(dim=(0, 1), keepdim=True), [normal(3, 4)]),
    "mean": (lambda x: x.mean(dim=(0, 2), keepdim=True), [normal(3, 4, 2)]),
    "amax": (lambda x: x.amax(dim=1), [normal(3, 4)]),
    "amin": (lambda x: x.amin(dim=0, keepdim=True), [normal(3, 4)]),
    "prod": (lambda x: x.prod(dim=1), [normal(3, 4)]),
    "prod_zeros": (lambda x: x.prod(dim=1), [np.array([[0.0, 2, 3], [1, 0, 0], [1, 2, 3]])]),
    "reshape": (lambda x: x.reshape(4, 3) * weights(4, 3), [normal(3, 4)]),
    "transpose": (lambda x: x.permute(2, 0, 1) * weights(4, 2, 3), [normal(2, 3, 4)]),
    "flip": (lambda x: x.flip(0, 2) * weights(2, 3, 4), [normal(2, 3, 4)]),
    "expand": (lambda x: x.expand(2, 3, 4) * weights(2, 3, 4), [normal(3, 1)]),
    "slice": (lambda x: x[1:, ::2], [normal(4, 5)]),
    "slice_steps": (lambda x: x[::3, 1:4:2], [normal(7, 6)]),
    "cat": (lambda a, b: irc.cat([a, b], dim=1), [normal(2, 3), normal(2, 2)]),
    "gather": (lambda x: x.gather(1, irc.tensor([[2, 0, 2, 2], [1, 1, 0, 3]])) * weights(2, 4), [normal(2, 4)]),
    "index_select": (lambda x: x.index_select(0, irc.tensor([2, 0, 2])) * weights(3, 2), [normal(3, 2)]),
    "index_select_dim1": (lambda x: x.index_select(1, irc.tensor([3, 0, 3])) * weights(2, 3, 3), [normal(2, 4, 3)]),
    "scatter_add": (
        lambda x, s: x.scatter_add(1, irc.tensor([[2, 0, 2], [1, 1, 3]]), s) * weights(2, 4),
        [normal(2, 4), normal(2, 3)],
    ),
    "index_add": (lambda x, s: x.index_add(0, irc.tensor([2, 0, 2]), s) * weights(3, 2), [normal(3, 2), normal(3, 2)]),
    "scatter_amax_ties": (  # x[0, 2] ties src[0, 0]: the gradient is shared, as torch does
        lambda x, s: x.scatter_reduce(1, irc.tensor([[2, 0, 2], [1, 1, 3]]), s, "amax") * weights(2, 4),
        [np.array([[0.5, -1, 2, 0], [1, 2, -3, 0.25]]), np.array([[2, 0.75, -1], [1.5, -2, 3]])],
    ),
    "scatter_prod_zeros": (  # one zero in a target: the product of the others; two: none
        lambda x, s: x.scatter_reduce(1, irc.tensor([[2, 0, 2], [1, 1, 3]]), s, "prod") * weights(2, 4),
        [np.array([[0.5, -1, 0, 2], [1, 0, -3, 0.25]]), np.array([[2, 0.75, -1], [0, 1.5, 3]])],
    ),
    "scatter_amin": (
        lambda x, s: x.scatter_reduce(0, irc.tensor([[1, 0], [1, 1]]), s, "amin") * weights(2, 2),
        [normal(2, 2), normal(2, 2)],
    ),
    "pad": (lambda x: F.pad(x, (1, 2, 0, 1), value=3.0), [normal(2, 3)]),
    "matmul": (lambda a, b: a @ b, [normal(2, 3), normal(3, 4)]),
    "matmul_batched": (lambda a, b: a @ b, [normal(2, 1, 2, 3), normal(3, 3, 4)]),
    "matmul_shared_matrix": (lambda a, b: a @ b, [normal(2, 3, 2, 3), normal(3, 4)]),
    "conv2d": (lambda x, w: F.conv2d(x, w), [normal(2, 3, 5, 5), normal(4, 3, 3, 3)]),
    "conv2d_stride2": (lambda x, w: F.conv2d(x, w, stride=2), [normal(1, 2, 6, 7), normal(3, 2, 3, 2)]),
    "conv2d_padding": (lambda x, w: F.conv2d(x, w, stride=2, padding=1), [normal(1, 2, 5, 6), normal(3, 2, 3, 3)]),
    "conv2d_pad_to_reach": (lambda x, w: F.conv2d(x, w, padding=(2, 1)), [normal(1, 2, 4, 5), normal(3, 2, 3, 3)]),
    "conv2d_pad_beyond_reach": (lambda x, w: F.conv2d(x, w, padding=1), [normal(1, 2, 3, 4), normal(3, 2, 1, 2)]),
    "conv2d_dilation": (
        lambda x, w: F.conv2d(x, w, dilation=2, padding=(1, 2)),
        [normal(1, 2, 7, 6), normal(2, 2, 3, 2)],
    ),
    "conv2d_groups": (lambda x, w: F.conv2d(x, w, groups=2, stride=(2, 1)), [normal(2, 4, 5, 5), normal(6, 2, 2, 3)]),
    "conv2d_depthwise": (
        lambda x, w: F.conv2d(x, w, groups=3, padding=1, dilation=2, stride=2),
        [normal(1, 3, 6, 6), normal(3, 1, 3, 3)],
    ),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [normal(2, 2, 4, 6)]),
    "max_pool2d_ragged": (lambda x: F.max_pool2d(x, (2, 3)), [normal(1, 2, 5, 7)]),  # last row/column uncovered
    "max_pool2d_padding": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [normal(1, 2, 5, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), [normal(2, 2, 4, 6)]),
    "avg_pool2d_padding": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [normal(1, 2, 5, 6)]),
    "softmax": (lambda x: x.softmax(dim=1), [normal(3, 4)]),
    "log_softmax": (lambda x: x.log_softmax(dim=0), [normal(3, 4)]),
    "two_outputs": (lambda x, y: (x * y, (x - y).exp().sum()), [normal(2, 3), normal(3)]),
}


def unit_interval(*shape):
    return rng.uniform(-0.8, 0.8, shape)


# the everyday math ops (issue 12); the rounding ones have a zero derivative (added to a smooth term)
CASES.update(
    {
        "floor": (lambda x: x.floor() + x * x, [normal(3, 4)]),
        "ceil": (lambda x: x.ceil() + x * x, [normal(3, 4)]),
        "round": (lambda x: x.round() + x * x, [normal(3, 4)]),
        "trunc": (lambda x: x.trunc() + x * x, [normal(3, 4)]),
        "log1p": (lambda x: x.log1p(), [positive(3, 4)]),
        "expm1": (lambda x: x.expm1(), [normal(3, 4)]),
        "log2": (lambda x: x.log2(), [positive(3, 4)]),
        "log10": (lambda x: x.log10(), [positive(3, 4)]),
        "exp2": (lambda x: x.exp2(), [normal(3, 4)]),
        "tan": (lambda x: x.tan(), [unit_interval(3, 4)]),
        "asin": (lambda x: x.asin(), [unit_interval(3, 4)]),
        "acos": (lambda x: x.acos(), [unit_interval(3, 4)]),
        "atan": (lambda x: x.atan(), [normal(3, 4)]),
        "sinh": (lambda x: x.sinh(), [normal(3, 4)]),
        "cosh": (lambda x: x.cosh(), [normal(3, 4)]),
        "asinh": (lambda x: x.asinh(), [normal(3, 4)]),
        "acosh": (lambda x: x.acosh(), [positive(3, 4) + 1.0]),
        "atanh": (lambda x: x.atanh(), [unit_interval(3, 4)]),
        "atan2": (lambda a, b: a.atan2(b), [normal(3, 4), normal(4)]),
        "fmod": (lambda a, b: a.fmod(b), [normal(3, 4) * 3, positive(4)]),
    }
)


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name):
    f, inputs = CASES[name]
    assert gradcheck(f, inputs)


def test_gradcheck_cast():
    # f64 -> f32 -> f64 rounds; a larger step keeps the finite difference exact enough
    assert gradcheck(lambda x: x.float().exp().double(), [normal(3, 4)], eps=1e-3, rtol=1e-4)


def test_every_rule_has_a_forward_backward_docstring():
    for op, rule in rules.vjp.rules.items():
        assert "Forward:" in rule.__doc__ and "Backward:" in rule.__doc__, op.name


def test_maximum_splits_ties_like_pytorch():
    fn = _fn(lambda a, b: irc.maximum(a, b), [np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])])
    da, db = run_hl(ModuleOp([build_vjp(fn, [0, 1])]), [np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])])
    np.testing.assert_array_equal(da, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(db, [0.5, 1.0, 0.0])


@pytest.mark.parametrize("stride", [2, 1], ids=["tiled", "overlapping"])
def test_max_pool2d_shares_the_gradient_among_tied_maxima(stride):
    # the tiled rule (stride = kernel) and the general one (per kernel offset) agree on ties
    x = np.array([[[[1.0, 1.0, 2.0], [0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]]])
    (dx,) = run_hl(ModuleOp([build_vjp(_fn(lambda x: F.max_pool2d(x, 2, stride=stride).sum(), [x]), [0])]), [x])
    expected = np.zeros_like(x)
    windows = [(i, j) for i in range(0, 2, stride) for j in range(0, 2, stride)]
    for i, j in windows:
        window = x[0, 0, i : i + 2, j : j + 2]
        expected[0, 0, i : i + 2, j : j + 2] += (window == window.max()) / (window == window.max()).sum()
    np.testing.assert_array_equal(dx, expected)


def test_amax_shares_the_gradient_among_tied_maxima():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    (dx,) = run_hl(ModuleOp([build_vjp(_fn(lambda x: x.amax(dim=1), [x]), [0])]), [x])
    np.testing.assert_array_equal(dx, [[0, 0.5, 0.5], [1, 0, 0]])


# ------------------------------------------------------------------ forward mode


def _fn(f, arrays):
    return find_entry(trace(f, [Spec.of(np.asarray(a)) for a in arrays]))


def _unit(shape, j):
    e = np.zeros(int(np.prod(shape)))
    e[j] = 1.0
    return e.reshape(shape)


def jacobian_by_jvp(fn, arrays):
    """Columns of the Jacobian (outputs flattened) by one JVP per input element."""
    wrt = float_args(fn)
    jvp = ModuleOp([build_jvp(fn, wrt)])
    n_out = len(fn.function_type.outputs.data)
    columns = []
    for i in wrt:
        for j in range(arrays[i].size):
            tangents = [_unit(arrays[k].shape, j) if k == i else np.zeros_like(arrays[k]) for k in wrt]
            out_tangents = run_hl(jvp, [*arrays, *tangents])[n_out:]
            columns.append(np.concatenate([t.ravel() for t in out_tangents]))
    return np.stack(columns, axis=1)


def jacobian_by_vjp(fn, arrays):
    """Rows of the Jacobian by one VJP per output element."""
    outputs = run_hl(ModuleOp([fn.clone()]), arrays)
    vjp = ModuleOp([build_vjp(fn, float_args(fn), seed="input")])
    rows = []
    for k, out in enumerate(outputs):
        for j in range(out.size):
            cotangents = [_unit(o.shape, j) if m == k else np.zeros_like(o) for m, o in enumerate(outputs)]
            rows.append(np.concatenate([g.ravel() for g in run_hl(vjp, [*arrays, *cotangents])]))
    return np.stack(rows, axis=0)


@pytest.mark.parametrize("name", CASES)
def test_jvp_matches_vjp_jacobian(name):
    f, inputs = CASES[name]
    arrays = [np.asarray(a, np.float64) for a in inputs]
    fn = _fn(f, arrays)
    np.testing.assert_allclose(jacobian_by_jvp(fn, arrays), jacobian_by_vjp(fn, arrays), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ structure


def _ops(fn):
    return [op for op in fn.body.block.ops if isinstance(op, hl.HLOp)]


def test_grad_of_sum_of_product_multiplies_by_the_other_operand():
    fn = _fn(lambda x, y: (x * y).sum(), [normal(3, 4), normal(3, 4)])
    grad = build_vjp(fn, [0, 1])
    x, y = grad.body.block.args
    muls = [op for op in _ops(grad) if isinstance(op, hl.MulOp)]
    assert {frozenset(op.operands) & {x, y} for op in muls} == {frozenset({y}), frozenset({x})}
    assert grad.sym_name.data == f"{fn.sym_name.data}_grad"
    assert [t for t in grad.function_type.outputs.data] == [x.type, y.type]
    # the forward product is dead in a gradient-only function
    assert not any(op.operands == (x, y) for op in muls)


def test_gradient_function_is_verified_hl_that_round_trips():
    fn = _fn(
        lambda x, w: F.conv2d(x, w, stride=2, padding=1).relu().amax(dim=1).sum(),
        [normal(1, 2, 5, 5), normal(3, 2, 3, 3)],
    )
    module = ModuleOp([build_vjp(fn, [0, 1], return_primals=True)])
    module.verify()
    assert print_module(parse_module(print_module(module))) == print_module(module)
    assert all(
        op.name.startswith("hl.") or op.name == "func.return"
        for op in module.walk()
        if op.name != "builtin.module" and op.name != "func.func"
    )


def test_unused_argument_gets_zero_gradient_and_integers_are_no_path():
    inputs = [np.ones(3, np.float32), np.ones(2, np.float32), np.arange(3)]
    fn = _fn(lambda x, y, n: (x * n.float()).sum(), inputs)
    dx, dy = run_hl(ModuleOp([build_vjp(fn, [0, 1])]), inputs)
    np.testing.assert_array_equal(dx, [0, 1, 2])
    np.testing.assert_array_equal(dy, [0, 0])
    assert dx.dtype == np.float32


def test_seed_input_and_return_primals():
    x, ct0, ct1 = normal(2, 3), normal(2, 3), np.array(2.0)
    fn = _fn(lambda x: (x.exp(), x.sum()), [x])
    grad = build_vjp(fn, [0], seed="input", return_primals=True)
    assert len(grad.body.block.args) == 3 and len(grad.function_type.outputs.data) == 3
    exp, total, dx = run_hl(ModuleOp([grad]), [x, ct0, ct1])
    np.testing.assert_allclose(exp, np.exp(x), rtol=1e-12)
    np.testing.assert_allclose(total, x.sum(), rtol=1e-12)
    np.testing.assert_allclose(dx, ct0 * np.exp(x) + 2.0, rtol=1e-12)


def test_gradient_ops_keep_the_forward_location():
    text = """
    func.func @f(%x: tensor<3xf32>) -> tensor<f32> {
      %0 = hl.tanh %x : (tensor<3xf32>) -> tensor<3xf32> loc("model.py":7:3)
      %1 = hl.sum %0 {dims = array<i64: 0>} : (tensor<3xf32>) -> tensor<f32> loc("model.py":8:3)
      func.return %1 : tensor<f32>
    }
    """
    grad = build_vjp(find_entry(parse_module(text)), [0])
    tanh_grad = [op for op in _ops(grad) if isinstance(op, hl.SubOp)]
    assert tanh_grad and all('"model.py":7:3' in str(op.location) for op in tanh_grad)


def test_second_derivative_is_the_vjp_of_a_vjp():
    fn = _fn(lambda x: (x.tanh() * x.exp()).sum(), [normal(4)])
    hessian_diag_sum = ModuleOp([build_vjp(build_vjp(fn, [0]), [0])])  # d/dx sum(f'(x)) = f''(x) elementwise
    x = normal(4)
    (d2,) = run_hl(hessian_diag_sum, [x])
    t, e = np.tanh(x), np.exp(x)
    dt, ddt = 1 - t**2, -2 * t * (1 - t**2)
    np.testing.assert_allclose(d2, ddt * e + 2 * dt * e + t * e, rtol=1e-10)


# ------------------------------------------------------------------ errors


def test_missing_rules_are_all_listed(monkeypatch):
    monkeypatch.delitem(rules.vjp.rules, hl.ExpOp)
    monkeypatch.delitem(rules.vjp.rules, hl.TanhOp)
    fn = _fn(lambda x: x.exp().tanh().sin().sum() + x.exp().sum(), [normal(3)])
    with pytest.raises(AutodiffError) as info:
        build_vjp(fn, [0])
    message = str(info.value)
    assert message.count("hl.exp") == 2 and message.count("hl.tanh") == 1 and "hl.sin" not in message
    assert "test_autodiff.py" in message  # each names its source location
    assert "@vjp(hl.ExpOp), @vjp(hl.TanhOp) in irc.transforms.vjp_rules" in message  # and where rules belong


def test_a_rule_registered_later_is_found(monkeypatch):
    fn = _fn(lambda x: x.sin().sum(), [normal(3)])
    monkeypatch.delitem(rules.vjp.rules, hl.SinOp)
    with pytest.raises(AutodiffError, match="hl.sin"):
        build_vjp(fn, [0])
    rules.vjp(hl.SinOp)(lambda b, op, g: [b.mul(g, 2.0)])
    (dx,) = run_hl(ModuleOp([build_vjp(fn, [0])]), [np.zeros(3)])
    np.testing.assert_array_equal(dx, [2.0, 2.0, 2.0])


def test_integer_argument_is_named():
    fn = _fn(lambda x, n: x * n.float(), [normal(3), np.arange(3)])
    with pytest.raises(AutodiffError, match=r"argument 1 \(%n: 3xi64\)"):
        build_vjp(fn, [1])
    with pytest.raises(AutodiffError, match="argument 1"):
        build_jvp(fn, [0, 1])


def test_gradcheck_reports_a_wrong_rule(monkeypatch):
    monkeypatch.setitem(rules.vjp.rules, hl.SinOp, lambda b, op, g: [g])
    with pytest.raises(AssertionError, match=r"input 1 \(shape \(3,\)\).*worst element input\[\d\]"):
        gradcheck(lambda x, y: x.exp() + y.sin(), [normal(3), normal(3)])


# ------------------------------------------------------------------ the pass

FORWARD = """
func.func @loss(%x: tensor<2x3xf32>, %w: tensor<3xf32>, %n: tensor<2xi64>) -> tensor<f32> {
  %0 = hl.mul %x, %w : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = hl.sum %0 {dims = array<i64: 0, 1>} : (tensor<2x3xf32>) -> tensor<f32>
  func.return %1 : tensor<f32>
}
"""


def test_autodiff_pass_adds_the_gradient_function():
    module = parse_module(FORWARD)
    parse_pipeline("hl-autodiff").apply(irc.ir.context.make_context(), module)
    names = [f.sym_name.data for f in module.ops]
    assert names == ["loss", "loss_grad"]
    grad = find_entry(module, "loss_grad")
    x, w = normal(2, 3).astype(np.float32), normal(3).astype(np.float32)
    dx, dw = run_hl(module, [x, w, np.zeros(2, np.int64)], entry="loss_grad")
    np.testing.assert_allclose(dx, np.broadcast_to(w, (2, 3)), rtol=1e-6)
    np.testing.assert_allclose(dw, x.sum(0), rtol=1e-6)
    assert len(grad.function_type.outputs.data) == 2


def test_autodiff_pass_options():
    module = parse_module(FORWARD)
    parse_pipeline("hl-autodiff{wrt=1 return_primals=true}").apply(irc.ir.context.make_context(), module)
    grad = find_entry(module, "loss_grad")
    assert [str(t) for t in grad.function_type.outputs.data] == ["tensor<f32>", "tensor<3xf32>"]


def test_an_embedding_gradient_is_a_scatter_add():
    """One index row (embedding, index_select): the gradient is hl.scatter's sum, which the reference adds
    with np.add.at (linear in the tokens; a one-hot matrix of vocabulary x tokens was built before)."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((50000, 8)).astype(np.float32)
    tokens = rng.integers(0, 50000, 64)
    tokens[::7] = 3  # repeated tokens add up
    cotangent = rng.standard_normal((64, 8)).astype(np.float32)
    fn = _fn(lambda w, t, c: (F.embedding(t, w) * c).sum(), [weight, tokens, cotangent])
    module = ModuleOp([build_vjp(fn, [0])])
    text = print_module(module)
    assert "hl.scatter" in text and "hl.matmul" not in text
    (dw,) = run_hl(module, [weight, tokens, cotangent])
    want = np.zeros_like(weight)
    np.add.at(want, tokens, cotangent)
    np.testing.assert_allclose(dw, want, rtol=1e-6, atol=1e-6)
