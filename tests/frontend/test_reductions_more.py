"""The reductions and scans of docs/torch-api.md ("Everyday math") against torch 2.13: all/any,
count_nonzero, logsumexp, var/std (+ _mean), norm / linalg.vector_norm, cumsum/cumprod/logcumsumexp,
aminmax, nansum/nanmean; values, dtypes, keyword combinations, gradients, and one llvm program.
"""

import math

import numpy as np
import pytest

import irc

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan


def normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


X = normal(3, 4)
MIXED = np.array([[0.0, 1.0, NAN, -2.0], [0.0, 0.0, 0.0, 0.0], [3.0, -INF, 1.0, 2.0]], np.float32)
LARGE = np.array([[1000.0, 1000.0, -INF], [-INF, -INF, -INF], [INF, 1.0, 2.0]], np.float32)
BOOLS = np.array([[True, False, True], [True, True, True]])
INTS = np.array([[1, 0, 3], [-2, 5, 0]])

#: name -> (fn(m, x), input)
CASES = {
    "all_any": (lambda m, x: (m.all(x), x.any(), m.all(x, dim=1), x.any(0, keepdim=True), x.all(dim=(0, 1))), MIXED),
    "all_any_bool": (lambda m, x: (x.all(), m.any(x, 1), x.all(0)), BOOLS),
    "all_any_int": (lambda m, x: (x.all(1), m.any(x, dim=0, keepdim=True)), INTS),
    "count_nonzero": (lambda m, x: (m.count_nonzero(x), x.count_nonzero(dim=1), x.count_nonzero((0, 1))), MIXED),
    "logsumexp": (lambda m, x: (m.logsumexp(x, 1), x.logsumexp(0, keepdim=True), x.logsumexp((0, 1))), X),
    "logsumexp_inf": (lambda m, x: (m.logsumexp(x, 1), x.logsumexp(0)), LARGE),
    "logsumexp_int": (lambda m, x: m.logsumexp(x, 1), INTS),
    "var_std": (
        lambda m, x: (
            m.var(x),
            x.std(),
            x.var(1),
            m.std(x, 0, keepdim=True),
            x.var(dim=1, correction=0),
            x.std(dim=(0, 1), correction=2),
            x.var(1, unbiased=False),
            m.std(x, 1, False, True),
            x.var(False),
        ),
        X,
    ),
    "var_std_mean": (
        lambda m, x: (*m.var_mean(x, 1), *m.std_mean(x, dim=0, keepdim=True), *m.std_mean(x, correction=0)),
        X,
    ),
    "var_one_element": (lambda m, x: (x[:, :1].var(1), x[:1].std(0, correction=0)), X),
    "norms": (
        lambda m, x: (
            m.norm(x),
            x.norm(p=1),
            x.norm(2, dim=1),
            x.norm(p="fro", dim=0, keepdim=True),
            x.norm(INF, 1),
            x.norm(-INF, 0),
            x.norm(0, 1),
            x.norm(3, 1),
            x.norm(0.5),
        ),
        X,
    ),
    "vector_norm": (
        lambda m, x: (
            m.linalg.vector_norm(x),
            m.linalg.vector_norm(x, ord=1, dim=1),
            m.linalg.vector_norm(x, INF, (0, 1), True),
            m.linalg.vector_norm(x, 0),
        ),
        X,
    ),
    "cumsum": (lambda m, x: (m.cumsum(x, 1), x.cumsum(0), x.cumsum(-1), x.cumsum(dim=0, dtype=m.float64)), X),
    "cumsum_edges": (lambda m, x: (x.cumsum(1), x.cumprod(1), m.logcumsumexp(x, 1)), MIXED),
    "cumsum_int_bool": (lambda m, x: (x.cumsum(1), m.cumprod(x, 0), x.bool().cumsum(0)), INTS),
    "cumsum_int32": (lambda m, x: (x.int().cumsum(1), x.int().cumprod(1)), INTS),
    "cumsum_0d": (lambda m, x: (x.sum().cumsum(0), x[0].cumprod(0)), X),
    "cumprod_logcumsumexp": (lambda m, x: (m.cumprod(x, 1), x.logcumsumexp(0), m.logcumsumexp(x, -1)), X),
    "aminmax": (lambda m, x: (*m.aminmax(x), *x.aminmax(dim=1), *m.aminmax(x, dim=0, keepdim=True)), X),
    "aminmax_fields": (lambda m, x: (m.aminmax(x, dim=1).min, x.aminmax().max), X),
    "nansum_nanmean": (
        lambda m, x: (m.nansum(x), x.nansum(1), x.nanmean(0), m.nanmean(x, 1, keepdim=True), x.nansum(dim=(0, 1))),
        np.where(np.isinf(MIXED), 1.0, MIXED).astype(np.float32),
    ),
    "nansum_int": (lambda m, x: (m.nansum(x), x.nansum(1)), INTS),
}


def _outputs(result):
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def _assert_same(got, want, where):
    got, want = _outputs(got), _outputs(want)
    assert len(got) == len(want), where
    for i, (g, w) in enumerate(zip(got, want)):
        g = g.numpy() if isinstance(g, irc.Tensor) else np.asarray(g)
        w = w.detach().numpy()
        assert g.dtype == w.dtype and g.shape == w.shape, (
            f"{where} output {i}: {g.dtype}{g.shape}, torch {w.dtype}{w.shape}"
        )
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6, err_msg=f"{where} output {i}")


@pytest.mark.parametrize("name", CASES)
def test_forward_matches_torch(name):
    fn, x = CASES[name]
    with np.errstate(all="ignore"):
        _assert_same(fn(irc, irc.tensor(x)), fn(torch, torch.tensor(x)), name)


#: gradient checks on float64: name -> fn(m, x)
GRAD_CASES = {
    "logsumexp": lambda m, x: m.logsumexp(x, 1).sum() + x.logsumexp((0, 1)),
    "var_std": lambda m, x: (x.var(1) + x.std(0).sum() + x.std(correction=0)).sum(),
    "norms": lambda m, x: x.norm() + x.norm(p=1, dim=1).sum() + x.norm(3) + m.linalg.vector_norm(x, INF),
    "norm_at_zero": lambda m, x: (x * 0).norm() + (x[:, :2] * 0).norm(dim=1).sum(),
    "scans": lambda m, x: (x.cumsum(1) * x).sum() + x.cumprod(0).sum() + x.logcumsumexp(1).sum(),
    "nansum_nanmean": lambda m, x: x.nansum(1).sum() + x.nanmean(),
    "aminmax": lambda m, x: sum(t.sum() for t in m.aminmax(x, dim=0)),
}


@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradients_match_torch(name):
    x0 = np.random.default_rng(7).standard_normal((3, 4))
    grads = []
    for m in (irc, torch):
        x = m.tensor(x0, requires_grad=True)
        GRAD_CASES[name](m, x).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-12, err_msg=name)


def test_jit_llvm_runs_the_reductions():
    """One llvm program for many reductions and scans, against torch."""
    names = ["all_any", "count_nonzero", "logsumexp_inf", "var_std", "norms", "cumsum_edges", "aminmax"]

    def run(m, *xs):
        return tuple(t for name, x in zip(names, xs) for t in _outputs(CASES[name][0](m, x)))

    xs = [CASES[name][1] for name in names]
    with np.errstate(all="ignore"):
        got = irc.jit(lambda *ts: run(irc, *ts), target="llvm")(*[irc.tensor(x) for x in xs])
        _assert_same(got, run(torch, *[torch.tensor(x) for x in xs]), "llvm")


def test_errors_follow_torch():
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        torch.tensor([1, 2]).std()
    with pytest.raises(irc.FrontendError, match="std and var only support floating point"):
        irc.tensor([1, 2]).std()
    with pytest.raises(irc.FrontendError, match="Expected a floating point or complex tensor as input. Got Long"):
        irc.linalg.vector_norm(irc.tensor([3, 4]))
    with pytest.raises(irc.FrontendError, match="can't specify both unbiased and correction"):
        irc.tensor([1.0, 2.0]).var(0, unbiased=True, correction=1)
    with pytest.raises(irc.FrontendError, match="not supported"):
        irc.tensor([[1.0, 2.0]]).norm(p="nuc")
    with pytest.raises(TypeError):
        irc.tensor([1.0]).logsumexp()  # dim is required, as in torch
