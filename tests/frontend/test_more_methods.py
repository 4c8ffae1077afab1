"""More of torch's Tensor methods and functions (irc/frontend/mathops.py: MORE_METHODS, TENSOR_ALIASES),
compared with torch 2.13: the addmm family, mv, inner, isclose/allclose/equal, diff, sum_to_size, rot90,
fill_diagonal_, nonzero/argwhere/unique (eager), sizes and devices, and torch's other spellings."""

import numpy as np
import pytest

import irc
from tests.torch_compare import raises_like_torch

torch = pytest.importorskip("torch")

A = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]], np.float32)
B = np.array([[2.0, 1.0], [-1.0, 0.5], [4.0, -3.0]], np.float32)
V = np.array([1.0, -1.0, 2.0], np.float32)
NAN = float("nan")
BATCH = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7


def t(m, a):
    return m.tensor(a)


CASES = {
    "addmm": lambda m: m.addmm(t(m, V[:2]), t(m, A), t(m, B), beta=0.5, alpha=2),
    "addmm-method-beta0": lambda m: t(m, np.full((2, 2), np.nan, np.float32)).addmm(t(m, A), t(m, B), beta=0),
    "addmv": lambda m: t(m, V[:2]).addmv(t(m, A), t(m, V), alpha=-1),
    "baddbmm": lambda m: m.baddbmm(t(m, BATCH[:, :, :3]), t(m, BATCH[:, :, :2] * 0 + 1), t(m, BATCH[:, :2, :3])),
    "addbmm": lambda m: t(m, np.ones((3, 3), np.float32)).addbmm(t(m, BATCH[:, :, :2]), t(m, BATCH[:, :2, :3])),
    "addr": lambda m: m.addr(t(m, A[:, :2]), t(m, V[:2]), t(m, V[1:]), beta=2),
    "mv": lambda m: t(m, A).mv(t(m, V)),
    "bmm-method": lambda m: t(m, BATCH).bmm(t(m, BATCH.transpose(0, 2, 1).copy())),
    "inner": lambda m: m.inner(t(m, BATCH), t(m, np.arange(20, dtype=np.float32).reshape(5, 4) / 3)),
    "inner-vectors": lambda m: t(m, V).inner(t(m, V)),
    "isclose": lambda m: t(m, V).isclose(t(m, V + np.float32(1e-6))),
    "isclose-nan": lambda m: m.isclose(t(m, [np.nan, 1.0, np.inf]), t(m, [np.nan, 1.0, np.inf]), equal_nan=True),
    "diff": lambda m: t(m, BATCH).diff(),
    "diff-n-dim-prepend": lambda m: m.diff(t(m, A), n=2, dim=0, prepend=t(m, B.T)),
    "diff-bool": lambda m: t(m, [True, False, False, True]).diff(),
    "sum_to_size": lambda m: t(m, BATCH).sum_to_size(3, 1),
    "rot90": lambda m: m.rot90(t(m, A)),
    "rot90-k3-dims": lambda m: t(m, BATCH).rot90(3, [2, 0]),
    "rot90-k2": lambda m: t(m, A).rot90(-2),
    "fill_diagonal_": lambda m: m.zeros(3, 4).fill_diagonal_(2.5),
    "fill_diagonal_-wrap": lambda m: m.zeros(7, 3).fill_diagonal_(5, wrap=True),
    "fill_diagonal_-cube": lambda m: m.zeros(3, 3, 3).fill_diagonal_(1),
    "fill_diagonal_-view": lambda m: (lambda x: (x[1:].fill_diagonal_(-1), x)[1])(m.zeros(4, 3)),
    "nonzero": lambda m: t(m, A > 0.3).nonzero(),
    "nonzero-tuple": lambda m: m.nonzero(t(m, A), as_tuple=True),
    "argwhere": lambda m: m.argwhere(t(m, V)),
    "unique": lambda m: m.unique(t(m, [3, 1, 3, 2, 1]), return_inverse=True, return_counts=True),
    "unique_nan": lambda m: m.unique(t(m, [1.0, NAN, 2.0, NAN, 1.0]), return_inverse=True, return_counts=True),
    "where-method": lambda m: t(m, A).where(t(m, A) > 0, t(m, V[:1])),
    "aliases": lambda m: (
        t(m, A).absolute(),
        m.multiply(t(m, A), 2),
        t(m, A).subtract(t(m, A), alpha=2),
        m.divide(t(m, A), 4),
        t(m, A).negative(),
        m.greater(t(m, A), 0),
        t(m, A).less_equal(0.5),
        m.not_equal(t(m, A), 1),
        t(m, A).greater_equal(0.25),
        m.less(t(m, A), 0),
    ),  # fmt: skip
    "in-place-aliases": lambda m: t(m, A).absolute_().multiply_(3).subtract_(1).divide_(2).negative_(),
    "split_with_sizes": lambda m: t(m, BATCH).split_with_sizes([1, 2], dim=1),
    "erfc-sinc": lambda m: (t(m, A).erfc(), m.sinc(t(m, [0.0, 0.5, 1.0, -2.5]))),
    "logit": lambda m: (t(m, [0.0, 0.25, 0.5, 1.0]).logit(), m.logit(t(m, [0.0, 0.3, 1.0]), eps=1e-3)),
    "xlogy": lambda m: m.xlogy(t(m, [0.0, 1.0, 2.0, 0.0]), t(m, [0.0, 2.0, 0.5, np.nan])),
    "float_power": lambda m: (t(m, A).float_power(2), m.float_power(t(m, [2.0, 3.0]), t(m, [0.5, -1.0]))),
    "in-place-math": lambda m: t(m, [0.2, 0.5, 0.9]).logit_().sinc_().erfc_(),
    "cross": lambda m: (
        m.cross(t(m, BATCH[:, :, :3] - 1), t(m, BATCH[:, :, 1:]), dim=1),
        t(m, A[:, :3]).cross(t(m, B.T), dim=1),
    ),
    "dist": lambda m: (m.dist(t(m, A), t(m, A * 0)), t(m, V).dist(t(m, -V), 3)),
    "cov-corrcoef": lambda m: (m.cov(t(m, A)), t(m, BATCH[0]).cov(correction=0), m.cov(t(m, V)), m.corrcoef(t(m, A))),
}


def _flat(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


@pytest.mark.parametrize("name", CASES)
def test_matches_torch(name):
    want, got = _flat(CASES[name](torch)), _flat(CASES[name](irc))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        g, w = g.numpy(), w.numpy()
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_values_sizes_and_devices_match_torch():
    for m in (torch, irc):
        x, y = t(m, A), t(m, A + np.float32(1e-3))
        got = (
            x.allclose(y), m.allclose(x, y, atol=1e-2), x.equal(t(m, A)), m.equal(x, y), x.equal(x[:1]),
            x.element_size(), x.itemsize, x.nbytes, x.double().element_size(), x.nelement(), x.ndimension(),
            x.is_cpu, x.is_cuda, x.get_device(),
        )  # fmt: skip
        if m is torch:
            want = got
    assert got == want == (False, True, True, False, False, 4, 4, 24, 8, 6, 2, True, False, -1)


def test_eager_only_and_argument_errors():
    with pytest.raises(irc.FrontendError, match="nonzero has a data-dependent shape"):
        irc.jit(lambda x: x.nonzero())(np.ones(3, np.float32))
    with pytest.raises(irc.FrontendError, match="unique has a data-dependent shape"):
        irc.jit(lambda x: x.unique())(np.ones(3, np.float32))
    raises_like_torch(torch, lambda m: m.zeros(2, 3, 4).fill_diagonal_(1))
    raises_like_torch(torch, lambda m: m.ones(2, 3).inner(m.ones(2)))
    raises_like_torch(torch, lambda m: m.ones(2, 3).sum_to_size(2, 2))
