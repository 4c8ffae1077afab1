"""Chains of reshapes of strided views compile for `llvm` to numpy's values.

A reshape of a strided view indexes its buffer through `i // n` and `i % n` of a
non-trivial index `i`; TVM's simplifier and FlattenBuffer's iter-map rewrite once
recombined the two parts wrongly (a silent wrong result, found by the random graphs:
see `_opaque_index` in irc/targets/tir.py). The chains below go through one to three
levels of such views, on odd and even sizes.
"""

import numpy as np
import pytest
import tvm
from tvm import tirx
from tvm.sym import iter_affine_map

import irc
from irc.compiler.pipeline import Pipeline
from irc.frontend.spec import Spec
from irc.frontend.tracing import trace
from tests.helpers import assert_matches_reference


def _transpose(h, a, b):
    return h.transpose(0, 1).reshape(a, b) if isinstance(h, irc.Tensor) else h.T.reshape(a, b)


def _expand(h, a, b, k=2, start=0):
    if isinstance(h, irc.Tensor):
        return h.unsqueeze(1).expand(a, k, b).reshape(k * a, b)[start::k]
    return np.broadcast_to(h[:, None, :], (a, k, b)).reshape(k * a, b)[start::k]


#: each view takes a 2-D tensor and its shape to a 2-D tensor (numpy or irc, same code)
VIEWS = {
    "transpose": _transpose,
    "slice": lambda h, a, b: h[:, ::2].reshape(-1).reshape(a, -(-b // 2)),
    "odd_slice": lambda h, a, b: h[:, 1::2].reshape(-1).reshape(a, b // 2),
    "rows": lambda h, a, b: h[1:].reshape(-1).reshape(b, a - 1),
    "flat_offset": lambda h, a, b: h.reshape(-1)[1:].reshape(1, a * b - 1),
    "expand": _expand,
    "expand3": lambda h, a, b: _expand(h, a, b, k=3, start=1),
    "swap": lambda h, a, b: h.reshape(b, a),
}


def chain(names):
    def fn(x):
        h = x
        for name in names:
            h = VIEWS[name](h, *h.shape)
        return h

    return fn


def compiled(fn, x):
    return irc.jit(fn, target="llvm")(x).numpy()


def test_hypothesis_case_matches_numpy():
    # the program hypothesis found: reshape(transpose) read x[1, 2] for x[0, 2]
    fn = chain(["expand", "slice", "transpose", "slice", "expand"])
    x = np.random.default_rng(2448).standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_array_equal(compiled(fn, x), fn(x))


@pytest.mark.parametrize("shape", [(2, 5), (3, 4), (3, 7), (4, 4), (4, 6), (1, 5), (7, 2)])
@pytest.mark.parametrize(
    "names",
    [
        ["slice", "transpose", "slice"],
        ["transpose", "odd_slice", "expand"],
        ["expand3", "transpose", "swap"],
        ["rows", "transpose", "slice"],
        ["slice", "flat_offset", "expand"],
        ["expand", "slice", "transpose", "slice", "expand"],
        ["expand3", "odd_slice", "rows", "slice", "odd_slice"],  # wrong on 4x4 too
    ],
    ids="-".join,
)
def test_view_chain_matches_numpy(shape, names):
    fn = chain(names)
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    try:
        expected = fn(x)
    except ValueError:  # a step that does not apply to this shape (an empty reshape)
        pytest.skip("chain does not apply to this shape")
    np.testing.assert_array_equal(compiled(fn, x), expected)
    assert_matches_reference(lambda t: fn(t) * 2.0 + 1.0, [x])  # the views feeding an elementwise op


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x[0, ::2] + x[0, 1::2],  # a unit-step dim narrower than x beside a strided one
        lambda x: x[::2, 1:] + x[1::2, :-1],
        lambda x: x[2:5, ::3] * x[1:4, 1::3],
    ],
    ids=["row-and-stride", "strides-and-narrowed", "narrowed-both"],
)
def test_strided_slices_beside_narrowed_dims_compile(fn):
    x = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)
    np.testing.assert_array_equal(compiled(fn, x), fn(x))


def test_tvm_iter_map_bug_is_still_there():
    """The TVM 0.27 bug `_opaque_index` works around. Once this fails, TVM is fixed: the
    workaround (and this test) can go."""
    v = tirx.Var("v", "int32")
    index = tirx.floordiv(v + 1, 2) * 2 + tirx.floordiv(v, 2)  # 0, 2, 3, 5 for v in 0..3
    (simplified,) = iter_affine_map.iter_map_simplify([index], {v: tvm.ir.Range(0, 4)}, check_level="surjective")

    def at(expr, value):
        analyzer = tvm.sym.Analyzer()
        analyzer.bind(v, tirx.IntImm("int32", value))
        return int(analyzer.simplify(expr))

    assert [at(index, i) for i in range(4)] == [0, 2, 3, 5]
    assert [at(simplified, i) for i in range(4)] == [0, 3, 3, 6]  # `(v + 1) // 2 * 3`


@pytest.mark.parametrize(
    ("fn", "hidden"),
    [
        (lambda x: x.reshape(8, 6) + 1.0, False),  # i * 6 + j enumerates the iterators densely
        (lambda x: x.reshape(8, 6)[:, ::2] + 1.0, True),  # i * 6 + j * 2: gaps
        (lambda x: x.reshape(-1)[1:].reshape(1, 47) + 1.0, True),  # an offset
    ],
)
def test_only_a_non_dense_collapsed_index_is_hidden(fn, hidden):
    x = np.arange(48, dtype=np.float32).reshape(6, 8)
    tir = Pipeline(target="llvm").run(trace(fn, [Spec.of(x)])).stages["tir"]
    assert ("^ -1 ^ -1" in tir) == hidden
    np.testing.assert_array_equal(compiled(fn, x), fn(irc.tensor(x)).numpy())
