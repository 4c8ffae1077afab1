"""sort, argsort, msort, topk, kthvalue, median, nanmedian (irc/frontend/sorting.py) against torch 2.13:
values, indices, dtypes and gradients eager, ties (stable) and NaN ordering, and one llvm program."""

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

import irc
from irc.interpreters.reference import run_hl
from irc.ir import parse_module, print_module
from irc.ir.context import make_context
from irc.transforms.autodiff import build_jvp, build_vjp
from irc.transforms.decompose import HLDecomposePass
from tests.torch_compare import check_eager, check_jit, normal

torch = pytest.importorskip("torch")

TIES = np.array([[3.0, 1.0, 2.0, 1.0, 3.0, 0.5], [2.0, 2.0, -1.0, 2.0, 0.0, -1.0]], dtype=np.float32)
NANS = np.array([[3.0, np.nan, 1.0, 1.5, np.nan, -2.0, 0.0], [np.nan] * 3 + [1.0, 2.0, 5.0, 4.0]], dtype=np.float32)
INTS = np.array([[4, -1, 3, -1, 0], [2, 2, 7, -5, 2]])

CASES = {
    "sort": (
        lambda m, a: (a.sort(), m.sort(a, 0), a.sort(dim=1, descending=True), a.sort(-1, True)),
        [normal(3, 5)],
    ),
    "sort-3d-0d": (lambda m, a: (a.sort(1), a.sum().sort(), m.msort(a)), [normal(2, 4, 3, dtype=np.float64)]),
    "sort-ties-stable": (
        lambda m, a: (
            a.sort(stable=True),
            a.sort(descending=True, stable=True),
            a.argsort(stable=True),
            m.argsort(a, dim=0, descending=True, stable=True),
        ),
        [TIES],
    ),  # fmt: skip
    "sort-nan": (lambda m, a: (a.sort(stable=True), a.sort(descending=True, stable=True)), [NANS]),
    "sort-int-bool": (
        lambda m, i: (
            i.sort(stable=True),
            i.sort(dim=0, descending=True, stable=True),
            (i > 0).sort(stable=True).values,
            i.argsort(stable=True),
        ),
        [INTS],
    ),  # fmt: skip
    "argsort": (lambda m, a: (a.argsort(), m.argsort(a, 0, True)), [normal(4, 3)]),
    "topk": (
        lambda m, a: (a.topk(2), m.topk(a, 3, 0, largest=False), a.topk(1, dim=1, sorted=False), a.topk(0)),
        [normal(4, 5)],
    ),
    # (which of several NaNs torch picks is unspecified: no gradients or indices there)
    "topk-nan-int": (
        lambda m, a, i: (a.topk(2).values.detach(), a.topk(3, largest=False), i.topk(2).values),
        [NANS, INTS],
    ),
    "kthvalue": (lambda m, a: (a.kthvalue(2), m.kthvalue(a, 3, 0, keepdim=True), a.kthvalue(1, 1)), [normal(4, 5)]),
    "median": (
        lambda m, a: (a.median(), a.median(1), m.median(a, 0, keepdim=True), a[:, :4].median(1), a.nanmedian(1)),
        [normal(3, 5)],
    ),
    "median-nan": (
        lambda m, a: (
            a.median(1).values.detach(),
            a.nanmedian(1),
            a.nanmedian(),
            a.median().detach(),
            a[0].nanmedian(),
        ),
        [NANS],
    ),  # fmt: skip
    "median-int": (lambda m, i: (i.median(), i.median(1), i.nanmedian(0).values), [INTS]),
    # x != x is NaN's test (llvm: TVM folded `x == x` to true before tir.py said it with isnan)
    "nan-compare": (lambda m, a: (a != a, a == a, a <= a, a > a), [NANS]),
    "max-min-dim": (lambda m, a: (a.max(1), m.min(a, 0, keepdim=True), a.max(dim=-1).values), [normal(3, 4)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_eager_matches_torch(name):
    fn, arrays = CASES[name]
    check_eager(torch, fn, arrays)


def test_jit_llvm_sort_nan_and_topk_match_torch():
    """NaN ordering and topk in one small program on llvm (with gradients)."""
    check_jit(torch, {name: CASES[name] for name in ("sort-nan", "topk", "nan-compare")})


@pytest.mark.slow
def test_jit_llvm_matches_torch():
    """sort, topk, kthvalue and median, with NaNs and ties, in one program on llvm (with gradients).
    (`median-nan` is eager only: irc.grad does not stop at `detach()`, which hides its ambiguous NaN picks.)"""
    check_jit(
        torch, {name: CASES[name] for name in ("sort", "sort-ties-stable", "sort-nan", "topk", "kthvalue", "median")}
    )


def test_results_are_named_tuples():
    x = irc.tensor([3.0, 1.0, 2.0])
    values, indices = x.sort()
    assert x.sort().values.tolist() == values.tolist() == [1.0, 2.0, 3.0] and indices.tolist() == [1, 2, 0]
    assert x.topk(1).indices.tolist() == [0] and x.kthvalue(2).values.item() == 2.0
    assert x.median(0).indices.item() == 2 and x.median().item() == 2.0


def test_compiled_eager_tier_matches_torch():
    """Sorting and a few shape ops realized by the compiled eager tier (one llvm program)."""
    from irc.frontend import realize

    a, b = NANS, normal(2, 3, 4)

    def outs(m):
        x, y = m.tensor(a), m.tensor(b)
        return [x.sort(stable=True).values, x.argsort(descending=True, stable=True), x.nanmedian(1).values,
                m.einsum("bij,bkj->bik", y, y), y.diag_embed(1), y.repeat(1, 2, 1), m.kron(y[0], y[1])]  # fmt: skip

    want = outs(torch)
    with irc.set_eager_mode("compile"):
        got = outs(irc)
        realize.realize_all([t._node for t in got])
        assert all(p.compiled is not None for p in realize._cache.values())
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-5)
        assert g.numpy().dtype == w.numpy().dtype


# ------------------------------------------------------------------ hl.argsort: every sort's one op
# The interpreter runs it as numpy's stable sort (irc/ir/hl.py); compiled code gets its rank-based
# decomposition (irc/transforms/decompose.py). Both must give torch's stable order.


def _with_ties(rng, shape, dtype):
    """Small integers (many ties) with NaN, -0.0 beside 0.0 and infinities sprinkled in."""
    x = rng.integers(-3, 4, shape).astype(dtype)
    for value, share in ((np.nan, 0.15), (-0.0, 0.1), (np.inf, 0.05), (-np.inf, 0.05)):
        x[rng.random(shape) < share] = value
    return x


def _sort_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    i64 = np.iinfo(np.int64)
    extremes = [i64.min, i64.min + 1, -1, 0, 1, i64.max - 1, i64.max]
    return {
        "f32": _with_ties(rng, (3, 9), np.float32),
        "f64-3d": _with_ties(rng, (2, 3, 6), np.float64),
        "f32-1d": _with_ties(rng, (11,), np.float32),
        "f16": _with_ties(rng, (3, 7), np.float16),
        "i32": rng.integers(-2, 3, (4, 7)).astype(np.int32),
        "i64-extremes": rng.choice(np.array(extremes, dtype=np.int64), (3, 8)),
        "bool": rng.random((3, 8)) < 0.5,
    }


SORT_INPUTS = _sort_inputs()


def _sorts(m, x, every_dim: bool = True):
    """Stable sorts of `x` along its dims (the last only unless `every_dim`) in both directions, and the
    first k of them (topk's k, whose indices are those of the stable sort: torch's topk breaks ties as it likes)."""
    outs = []
    dims = range(-x.ndim, 0) if every_dim else [-1]
    for dim in dims:
        for descending in (False, True):
            outs += list(m.sort(x, dim=dim, descending=descending, stable=True))
    n = x.shape[-1]
    for k, largest in ((n // 2, True), (1, False), (n, True)):
        if m is torch:
            outs += [t.narrow(-1, 0, k) for t in torch.sort(x, dim=-1, descending=largest, stable=True)]
        else:
            outs += list(m.topk(x, k, largest=largest))
    return outs


def _assert_sorted_as_torch(got, want, label: str):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = (g.numpy() if isinstance(g, irc.Tensor) else np.asarray(g)), w.numpy()
        assert (g.dtype, g.shape) == (w.dtype, w.shape), f"{label} output {i}"
        np.testing.assert_array_equal(g, w, err_msg=f"{label} output {i}")  # (NaN equals NaN here)


@pytest.mark.parametrize("name", list(SORT_INPUTS))
def test_interpreter_sorts_as_torch(name):
    """Ties, NaN, -0.0 / 0.0, int64 extremes and bools, every dim, both directions, the first k."""
    x = SORT_INPUTS[name]
    _assert_sorted_as_torch(_sorts(irc, irc.tensor(x)), _sorts(torch, torch.from_numpy(x)), name)


def test_compiled_tiers_sort_as_torch():
    """The same on llvm: under irc.jit, and realized by the compiled eager tier (one program each)."""
    from irc.frontend import realize

    names = list(SORT_INPUTS)
    want = [_sorts(torch, torch.from_numpy(SORT_INPUTS[n]), every_dim=False) for n in names]

    @irc.jit(target="llvm")
    def program(*xs):
        return tuple(t for x in xs for t in _sorts(irc, x, every_dim=False))

    got = program(*[irc.tensor(SORT_INPUTS[n]) for n in names])
    flat_want = [t for w in want for t in w]
    _assert_sorted_as_torch(got, flat_want, "jit")

    with irc.set_eager_mode("compile"):
        got = [t for n in names for t in _sorts(irc, irc.tensor(SORT_INPUTS[n]), every_dim=False)]
        realize.realize_all([t._node for t in got])
        assert all(p.compiled is not None for p in realize._cache.values())
    _assert_sorted_as_torch(got, flat_want, "compiled eager tier")


def test_a_long_sort_runs_on_the_interpreter():
    """8000 elements (torch's OpInfo samples' size): numpy's sort, not an (n, n) composition (was 5 s, 3 GB)."""
    x = normal(8000)
    x[::97] = np.nan
    want = torch.sort(torch.from_numpy(x), descending=True, stable=True)
    _assert_sorted_as_torch(irc.tensor(x).sort(descending=True), want, "8000")
    values, indices = irc.tensor(x.reshape(4, 2000)).sort(0)
    _assert_sorted_as_torch(
        [values, indices], torch.from_numpy(x.reshape(4, 2000)).sort(dim=0, stable=True), "(4, 2000)"
    )


def _argsort_module(x: np.ndarray, attrs: str, k: int | None) -> str:
    dtype = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "i1"}[x.dtype.name]
    shape = "x".join(map(str, x.shape))
    out = "x".join(map(str, (*x.shape[:-1], x.shape[-1] if k is None else k)))
    return (
        f"func.func @f(%x: tensor<{shape}x{dtype}>) -> tensor<{out}xi64> {{\n"
        f"  %r = hl.argsort %x{attrs} : (tensor<{shape}x{dtype}>) -> tensor<{out}xi64>\n"
        f"  func.return %r : tensor<{out}xi64>\n}}\n"
    )


@pytest.mark.parametrize("name", [n for n in SORT_INPUTS if n != "f16"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("k", [None, 0, 3])
def test_argsort_decomposition_computes_the_reference(name, descending, k):
    """hl.argsort's decomposition (what compiled code runs) and its numpy reference give the same indices,
    and the op round-trips through print and parse."""
    x = SORT_INPUTS[name]
    attrs = [*(["descending = true"] if descending else []), *([f"k = {k} : i64"] if k is not None else [])]
    text = _argsort_module(x, " {" + ", ".join(attrs) + "}" if attrs else "", k)
    module = parse_module(text)
    module.verify()
    assert print_module(parse_module(print_module(module))) == print_module(module)
    (want,) = run_hl(module, [x])
    HLDecomposePass().apply(make_context(), module)
    module.verify()
    assert "hl.argsort" not in print_module(module)
    (got,) = run_hl(module, [x])
    assert got.dtype == want.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    order = torch.sort(torch.from_numpy(x), descending=descending, stable=True).indices.numpy()
    np.testing.assert_array_equal(want, order[..., : x.shape[-1] if k is None else k])


def test_argsort_indices_get_no_cotangent():
    """Autodiff decomposes hl.argsort (integer indices: no cotangent, no tangent); the values' derivatives flow
    through gather."""
    text = """
    func.func @f(%x: tensor<2x5xf32>) -> (tensor<2x3xf32>, tensor<2x3xi64>) {
      %i = hl.argsort %x {descending = true, k = 3 : i64} : (tensor<2x5xf32>) -> tensor<2x3xi64>
      %v = hl.gather %x, %i {dim = 1 : i64} : (tensor<2x5xf32>, tensor<2x3xi64>) -> tensor<2x3xf32>
      func.return %v, %i : tensor<2x3xf32>, tensor<2x3xi64>
    }
    """
    fn = next(iter(parse_module(text).ops))
    x = np.array([[0.5, 3.0, np.nan, 3.0, -1.0], [1.0, 2.0, 0.0, 4.0, 3.0]], dtype=np.float32)
    grad = build_vjp(fn, [0], return_primals=True)
    assert "hl.argsort" not in str(grad)
    v, i, dx = run_hl(ModuleOp([grad]), [x])
    np.testing.assert_array_equal(i, [[2, 1, 3], [3, 4, 1]])
    np.testing.assert_array_equal(dx, [[0, 1, 1, 1, 0], [0, 1, 0, 1, 1]])
    tx = np.arange(10, dtype=np.float32).reshape(2, 5)  # forward mode: the values' tangent is gathered too
    _, _, tv, ti = run_hl(ModuleOp([build_jvp(fn, [0])]), [x, tx])
    np.testing.assert_array_equal(tv, [[2, 1, 3], [8, 9, 6]])
    np.testing.assert_array_equal(ti, 0)
