"""torch's shape and creation ops (irc/frontend/shape_ops.py, docs/torch-api.md), compared with torch 2.13:
values, dtypes and gradients eager (interpreter tier), and one llvm program (with irc.grad) for many."""

import numpy as np
import pytest

import irc
from tests.torch_compare import check_eager, check_jit, normal, raises_like_torch

torch = pytest.importorskip("torch")

INTS = np.array([[3, -1, 2], [0, 5, -4]])

# name -> (fn(m, *inputs), inputs)
CASES = {
    "repeat": (lambda m, a: (a.repeat(2, 3), a.repeat(2, 1, 1)), [normal(2, 3)]),
    "repeat-0d-int": (lambda m, a, i: (a.sum().repeat(3), i.repeat(1, 2)), [normal(2), INTS]),
    "tile": (lambda m, a: (a.tile((2,)), m.tile(a, (2, 1, 2))), [normal(2, 3)]),
    "repeat_interleave": (
        lambda m, a: (a.repeat_interleave(2), a.repeat_interleave(3, dim=1), m.repeat_interleave(a, 2, 0)),
        [normal(2, 3)],
    ),
    "outer-ger": (lambda m, a, b: (m.outer(a, b), a.ger(b), a.outer(b.double())), [normal(3), normal(4)]),
    "outer-int": (lambda m, a, i: m.outer(i[0], a), [normal(3), INTS]),
    "diag": (lambda m, a: (m.diag(a), a.diag(1), a.diag(-2)), [normal(3)]),
    "diag-2d": (lambda m, a: (a.diag(), m.diag(a, 2), a.diag(-1), a.diag(5)), [normal(3, 4)]),
    "diagonal": (lambda m, a: (a.diagonal(), a.diagonal(1, 2, 0), m.diagonal(a, -1, -1, 1)), [normal(2, 3, 4)]),
    "diag_embed": (lambda m, a: (a.diag_embed(), m.diag_embed(a, 1), a.diag_embed(-1, 0, 2)), [normal(2, 3)]),
    "diagflat": (lambda m, a: (a.diagflat(), m.diagflat(a, -1)), [normal(2, 2)]),
    "trace": (lambda m, a, i: (a.trace(), m.trace(i)), [normal(3, 4), INTS]),
    "movedim": (
        lambda m, a: (
            a.movedim(0, 2),
            m.movedim(a, (0, 1), (2, 0)),
            a.moveaxis(-1, 0),
            a.swapaxes(0, 2),
            m.swapdims(a, 1, 2),
        ),
        [normal(2, 3, 4)],
    ),  # fmt: skip
    "unflatten-flatten": (
        lambda m, a: (a.unflatten(1, (2, -1)), m.flatten(a, 1, 2), a.flatten(0, 1)),
        [normal(2, 6, 2)],
    ),
    "kron": (lambda m, a, b: (m.kron(a, b), a.kron(b[0])), [normal(2, 3), normal(2, 2)]),
    "tensordot": (
        lambda m, a, b: (
            m.tensordot(a, b, dims=([1, 2], [0, 1])),
            m.tensordot(a, b.transpose(0, 1), 1),
            m.tensordot(a[0], b[:, :, 0], 0),
        ),
        [normal(2, 3, 4), normal(3, 4, 2)],
    ),  # fmt: skip
    "einsum-matmul": (
        lambda m, a, b: (m.einsum("ij,jk->ik", a, b), m.einsum("ij,jk", a, b), m.einsum("ij,kj->ki", a, b.t())),
        [normal(2, 3), normal(3, 4)],
    ),
    "einsum-batched-ellipsis": (
        lambda m, a, b: (
            m.einsum("bij,bjk->bik", a, b),
            m.einsum("...ij,...jk", a, b),
            m.einsum("b...,b...->b", a, a),
            m.einsum("bij,bjk->ik", a, b),
        ),
        [normal(2, 3, 4), normal(2, 4, 5)],
    ),
    "einsum-diagonal-trace": (
        lambda m, a, c: (m.einsum("ii->i", a), m.einsum("ii", a), m.einsum("iji->j", c), m.einsum("ii->", a)),
        [normal(3, 3), normal(3, 2, 3)],
    ),
    "einsum-outer-sum-chain": (
        lambda m, a, b, c: (
            m.einsum("i,j->ij", a, b),
            m.einsum("i,i", a, a),
            m.einsum("ij->", c),
            m.einsum("ab,bc,cd->ad", c, c.t(), c),
            m.einsum(" i j -> j i ", c),
            m.einsum("ij,ij->i", [c, c]),
        ),
        [normal(3), normal(4), normal(3, 4)],
    ),  # fmt: skip
    "einsum-broadcast": (lambda m, a, b: m.einsum("...j,...j->...", a, b), [normal(2, 3), normal(1, 3)]),
    "atleast": (
        lambda m, s, v, a: (*m.atleast_1d(s, v), *m.atleast_2d(s, v, a), *m.atleast_3d((s, v, a)), m.atleast_3d(a)),
        [normal(), normal(3), normal(2, 3)],
    ),
    "meshgrid": (
        lambda m, a, b: (
            *m.meshgrid(a, b, indexing="ij"),
            *m.meshgrid(a, b, indexing="xy"),
            *m.meshgrid([a, b, a[:2]], indexing="xy"),
        ),
        [normal(3), normal(4)],
    ),  # fmt: skip
    "cartesian_prod": (lambda m, a, b: (m.cartesian_prod(a, b), m.cartesian_prod(a)), [normal(3), normal(2)]),
    "cdist": (
        lambda m, a, b: (m.cdist(a, b), m.cdist(a, b, p=1), m.cdist(a[0], b[0], p=3), m.cdist(a, b, p=float("inf"))),
        [normal(2, 3, 4), normal(2, 5, 4) + 1],
    ),
    "eye": (
        lambda m, a: (m.eye(3), m.eye(2, 4, dtype=m.int64), m.eye(3, dtype=m.float64) * a, m.eye(0).shape[0] * a),
        [normal(3, 3, dtype=np.float64)],
    ),
    "linspace-logspace": (
        lambda m, a: (
            m.linspace(-1, 3.3, 7),
            m.linspace(0, 1, 1),
            m.linspace(2, 10, 5, dtype=m.int64),
            m.linspace(0.5, -2, 6, dtype=m.float64) * a,
            m.logspace(-2, 2, 5),
            m.logspace(0, 3, 4, base=2.0),
            m.linspace(0, 1, 0),
        ),
        [normal(6, dtype=np.float64)],
    ),  # fmt: skip
    "tril-triu-indices": (
        lambda m, a: (
            m.tril_indices(3, 4),
            m.tril_indices(4, 3, -1),
            m.triu_indices(3, 3, 1),
            m.triu_indices(3, 5, -1, dtype=m.int32),
            a[m.tril_indices(3, 3)[0]],
        ),
        [normal(3)],
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", list(CASES))
def test_eager_matches_torch(name):
    fn, arrays = CASES[name]
    check_eager(torch, fn, arrays)


JIT = ("repeat", "repeat_interleave", "diag", "diagonal", "diag_embed", "trace", "movedim", "kron", "tensordot",
       "einsum-batched-ellipsis", "einsum-diagonal-trace", "einsum-outer-sum-chain", "meshgrid", "cdist", "eye")  # fmt: skip


def test_jit_llvm_einsum_diag_embed_cdist_match_torch():
    """A few ops in one small program on llvm (values and irc.grad gradients), against torch."""
    check_jit(torch, {name: CASES[name] for name in ("einsum-batched-ellipsis", "diag_embed", "cdist")}, tol=1e-5)


@pytest.mark.slow
def test_jit_llvm_matches_torch():
    """Many ops in one program on llvm (values and irc.grad gradients), against torch."""
    check_jit(torch, {name: CASES[name] for name in JIT}, tol=1e-5)


def test_random_creation_shapes_dtypes_and_ranges():
    irc.manual_seed(0)
    r = irc.randint(3, 10, (200,))
    assert r.dtype == irc.int64 and r.shape == (200,) and 3 <= r.numpy().min() and r.numpy().max() < 10
    assert set(irc.randint(2, size=(100,)).tolist()) == {0, 1}
    like = irc.randint_like(irc.zeros(2, 3), 4)
    assert like.dtype == irc.float32 and like.shape == (2, 3) and set(like.numpy().ravel()) <= {0.0, 1.0, 2.0, 3.0}
    assert irc.randint(5, (2,), dtype=irc.int32).dtype == irc.int32
    p = irc.tensor([0.0, 1.0, 0.5] * 200)
    b = irc.bernoulli(p).numpy()
    assert b.dtype == np.float32 and (b[0::3] == 0).all() and (b[1::3] == 1).all() and 0.35 < b[2::3].mean() < 0.65
    assert irc.zeros(4).bernoulli(0.999).numpy().sum() >= 3
    w = irc.tensor([[0.0, 1.0, 0.0, 3.0], [1.0, 0.0, 2.0, 0.0]])
    s = w.multinomial(2)
    assert s.dtype == irc.int64 and s.shape == (2, 2)
    assert sorted(s[0].tolist()) == [1, 3] and sorted(s[1].tolist()) == [0, 2]
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):  # torch's type
        w.multinomial(5)
    assert set(irc.multinomial(w[0], 50, replacement=True).tolist()) <= {1, 3}


def test_bernoulli_under_jit_draws_each_call():
    f = irc.jit(lambda p: p.bernoulli())
    p = irc.full((400,), 0.5)
    a, b = f(p).numpy(), f(p).numpy()
    assert set(np.unique(a)) <= {0.0, 1.0} and 0.35 < a.mean() < 0.65 and (a != b).any()


ERRORS = {
    "repeat-too-few": lambda m: m.ones(2, 3).repeat(2),
    "diag-3d": lambda m: m.ones(2, 2, 2).diag(),
    "diagonal-same-dims": lambda m: m.ones(2, 2).diagonal(0, 1, 1),
    "trace-1d": lambda m: m.ones(3).trace(),
    "movedim-lengths": lambda m: m.ones(2, 3).movedim([0, 1], [0]),
    "tensordot-sizes": lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 3), ([0], [0])),
    "tensordot-dtypes": lambda m: m.tensordot(m.ones(2, 3), m.ones(3, 2, dtype=m.float64), 1),
    "einsum-operands": lambda m: m.einsum("ij,jk", m.ones(2, 2)),
    "einsum-rank": lambda m: m.einsum("ijk", m.ones(2, 2)),
    # two dtypes where a letter is contracted (torch's bmm), either order, three operands too
    "einsum-dtypes-matmul": lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), m.ones(3, 4, dtype=m.float64)),
    "einsum-dtypes-rowdot": lambda m: m.einsum("ij,ij->i", m.ones(2, 3, dtype=m.float64), m.ones(2, 3)),
    "einsum-dtypes-int": lambda m: m.einsum("ij,jk", m.ones(2, 3), m.ones(3, 4, dtype=m.int64)),
    "einsum-dtypes-chain": lambda m: m.einsum(
        "ij,jk,kl->il", m.ones(2, 3), m.ones(3, 4), m.ones(4, 2, dtype=m.float64)
    ),
    "meshgrid-indexing": lambda m: m.meshgrid(m.ones(2), indexing="zz"),
    "meshgrid-dtypes": lambda m: m.meshgrid(m.ones(2), m.ones(2, dtype=m.float64), indexing="ij"),
    "cdist-columns": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4)),
    "linspace-negative": lambda m: m.linspace(0, 1, -1),
    "randint-range": lambda m: m.randint(3, 3, (2,)),
    "topk-range": lambda m: m.ones(3).topk(4),
    "kthvalue-range": lambda m: m.ones(2, 3).kthvalue(4),
    "unflatten-sizes": lambda m: m.ones(2, 6).unflatten(1, (4, 2)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_carry_torch_messages(name):
    raises_like_torch(torch, ERRORS[name])


def test_einsum_promotes_two_dtypes_where_nothing_is_contracted():
    """torch multiplies such pairs elementwise and promotes; the dtypes and values match it."""
    a32, a64 = normal(2, 3), normal(2, 3).astype(np.float64)
    v64 = normal(2).astype(np.float64)
    for eq, ops in [("ij,ij->ij", (a32, a64)), ("i,j->ij", (a32[0], a64[1])), ("ij,i->ij", (a32, v64))]:
        want = torch.einsum(eq, *(torch.tensor(o) for o in ops))
        got = irc.einsum(eq, *(irc.tensor(o) for o in ops))
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), eq
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
