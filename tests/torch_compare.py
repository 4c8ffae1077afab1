"""Compare irc with torch on cases written once for both (`fn(m, *tensors)`, `m` is `irc` or `torch`):
outputs (values, shapes, dtypes) and the float inputs' gradients of a fixed weighting of the float
outputs, eager and, for many cases in one program, under `irc.jit(target="llvm")` with `irc.grad`."""

from __future__ import annotations

import numpy as np

import irc


def normal(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape).astype(dtype)


def flat(outs) -> list:
    """A case's outputs as a flat list of tensors (named tuples and lists of tensors are unpacked)."""
    if isinstance(outs, (tuple, list)):
        return [t for o in outs for t in flat(o)]
    return [outs]


def weighted_loss(m, outs):
    """sum(out * w) over the float outputs, with fixed weights (a permuted gradient would not pass)."""
    terms = []
    for i, out in enumerate(outs):
        if isinstance(out, m.Tensor) and out.is_floating_point() and out.numel():
            w = np.cos(np.arange(out.numel()) * 1.3 + i).reshape(tuple(out.shape)).astype(str(out.dtype).split(".")[-1])
            terms.append((out * m.tensor(w)).sum().double())
    return sum(terms) if terms else None


def run(m, fn, arrays, grad: bool = True):
    """fn's outputs (a flat list) and the float inputs' gradients of `weighted_loss` (backward())."""
    xs = [m.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    outs = flat(fn(m, *xs))
    loss = weighted_loss(m, outs)
    if loss is not None and loss.requires_grad:
        loss.backward()
    return outs, [x.grad if x.grad is not None else m.zeros_like(x) for x in xs if x.requires_grad]


def assert_same(got, want, tol: float | None = None) -> None:
    want_np = want.detach().numpy()
    got_np = got.numpy() if isinstance(got, irc.Tensor) else np.asarray(got)
    assert (got_np.dtype, got_np.shape) == (want_np.dtype, want_np.shape)
    tol = tol or (1e-10 if want_np.dtype == np.float64 else 2e-5)
    np.testing.assert_allclose(got_np, want_np, rtol=tol, atol=tol)


def check_eager(torch, fn, arrays, tol: float | None = None) -> None:
    """Outputs and backward() gradients equal torch's."""
    want_outs, want_grads = run(torch, fn, arrays)
    outs, grads = run(irc, fn, arrays)
    assert len(outs) == len(want_outs) and len(grads) == len(want_grads)
    for got, want in zip([*outs, *grads], [*want_outs, *want_grads]):
        assert_same(got, want, tol)


def check_jit(torch, cases: dict, tol: float | None = None) -> None:
    """All `cases` (name -> (fn, arrays)) in one llvm program with their gradients (irc.grad), against torch."""
    want_outs, want_grads, arrays, spans = [], [], [], []
    for fn, case_arrays in cases.values():  # the program returns all outputs, then all gradients
        outs, grads = run(torch, fn, case_arrays)
        want_outs += outs
        want_grads += grads
        spans.append((len(arrays), len(case_arrays)))
        arrays += case_arrays
    floats = tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")
    fns = [fn for fn, _ in cases.values()]

    def outputs_and_loss(*xs):
        outs, losses = [], []
        for fn, (k, n) in zip(fns, spans):
            case_outs = flat(fn(irc, *xs[k : k + n]))
            outs.append(case_outs)
            loss = weighted_loss(irc, case_outs)
            losses += [loss] if loss is not None else []
        return outs, sum(losses)

    @irc.jit(target="llvm")
    def program(*xs):
        grads = irc.grad(lambda *ys: outputs_and_loss(*ys)[1], argnums=floats)(*xs)
        outs, _ = outputs_and_loss(*xs)
        return (*[t for o in outs for t in o], *grads)

    got = program(*arrays)
    assert len(got) == len(want_outs) + len(want_grads)
    for g, w in zip(got, [*want_outs, *want_grads]):
        assert_same(g, w, tol)


def check_jit_value_and_grad(torch, f, arrays, rtol: float = 1e-5, atol: float = 1e-5):
    """`f(m, *tensors)`, a scalar, and its gradients for every input, as one llvm program
    (`irc.jit(irc.value_and_grad(...))`) against torch's `backward()`; returns the jitted function."""
    argnums = tuple(range(len(arrays)))
    grad = irc.jit(irc.value_and_grad(lambda *xs: f(irc, *xs), argnums=argnums), target="llvm")
    value, grads = grad(*[irc.tensor(a) for a in arrays])
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    expected = f(torch, *ts)
    expected.backward()
    np.testing.assert_allclose(value.numpy(), expected.item(), rtol=rtol)
    assert len(grads) == len(ts)
    for got, t in zip(grads, ts):
        np.testing.assert_allclose(got.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    return grad


def raises_like_torch(torch, case):
    """The exceptions `case(torch)` and `case(irc)` raise, irc's message holding the first line of torch's."""
    import pytest

    with pytest.raises(Exception) as want:
        case(torch)
    with pytest.raises(Exception) as got:
        case(irc)
    assert str(want.value).splitlines()[0] in str(got.value), (str(want.value), str(got.value))
    return want.value, got.value
