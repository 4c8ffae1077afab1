"""`irc.autograd` against PyTorch: `grad` (create_graph, non-leaf inputs, allow_unused), `backward` of several
tensors and with `inputs`, tensor hooks and `retain_grad`, custom `Function`s, `functional` and `gradcheck`.

Each program runs with `T` = torch and `T` = irc from the same numpy values; the eager ones run interpreted
(the numpy reference) and, where marked, inside `irc.jit` (compiled)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irc
from irc.frontend import realize

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _interpret():
    with irc.set_eager_mode("interpret"):
        yield


def _np(t):
    return None if t is None else np.array(t.detach().numpy())  # a copy: torch accumulates .grad in place


def _same(a, b, rtol=1e-5, atol=1e-6):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, rtol, atol)
    elif a is None or b is None:
        assert a is None and b is None
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _both(program, *args, **kw):
    _same(program(irc, *args), program(torch, *args), **kw)


RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 4)).astype(np.float32)
X = RNG.standard_normal((2, 3)).astype(np.float32)


# ------------------------------------------------------------------ autograd.grad
def test_grad_of_leaves_and_non_leaves_without_touching_dot_grad():
    def program(T):
        w = T.tensor(W, requires_grad=True)
        x = T.tensor(X)
        h = (x @ w).tanh()
        loss = (h * h).sum() + w.sum()
        gh, gw = T.autograd.grad(loss, [h, w])
        assert w.grad is None
        return _np(gh), _np(gw)

    _both(program)


def test_grad_create_graph_gives_a_gradient_penalty():
    """WGAN-GP's penalty: the norm of d critic / d input, differentiated again for the weights."""

    def program(T):
        w = T.tensor(W, requires_grad=True)
        x = T.tensor(X, requires_grad=True)
        critic = ((x @ w).sin() ** 2).sum()
        (gx,) = T.autograd.grad(critic, x, create_graph=True)
        penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        return _np(gx), _np(w.grad), _np(x.grad)

    _both(program, rtol=1e-4)


def test_second_and_third_derivatives():
    def program(T):
        x = T.tensor([0.3, -1.1, 2.0], dtype=T.float64, requires_grad=True)
        y = (x.sin() * x**3).sum()
        (g,) = T.autograd.grad(y, x, create_graph=True)
        (gg,) = T.autograd.grad(g.sum(), x, create_graph=True)
        (ggg,) = T.autograd.grad(gg.sum(), x)
        return _np(g), _np(gg), _np(ggg)

    _both(program, rtol=1e-10)


def test_grad_outputs_several_outputs_allow_unused_and_materialize():
    def program(T):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        b = T.tensor([3.0, 4.0], requires_grad=True)
        unused = T.tensor([5.0], requires_grad=True)
        y1, y2 = a * b, (a**2).sum()
        ga, gb, gu = T.autograd.grad(
            [y1, y2], [a, b, unused], [T.tensor([1.0, -1.0]), None], allow_unused=True, retain_graph=True
        )
        assert gu is None
        (gz,) = T.autograd.grad(y2, [unused], materialize_grads=True, allow_unused=True)
        return _np(ga), _np(gb), _np(gz)

    _both(program)


def test_grad_errors_as_torch():
    for T in (irc, torch):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        b = T.tensor([1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            T.autograd.grad((a * 2).sum(), [a, b])
        with pytest.raises(RuntimeError, match="does not require grad"):
            T.autograd.grad((a * 2).sum(), [T.tensor([1.0])])
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
            T.autograd.grad(a * 2, a)
        y = (a.exp()).sum()
        T.autograd.grad(y, a)
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            T.autograd.grad(y, a)


def test_backward_of_several_tensors_and_with_inputs():
    def program(T):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        b = T.tensor([3.0, -1.0], requires_grad=True)
        T.autograd.backward([(a * b).sum(), (a**3).sum()], retain_graph=False)
        ga, gb = a.grad.clone(), b.grad.clone()
        a.grad = b.grad = None
        ((a * b).exp().sum()).backward(inputs=[b])
        return _np(ga), _np(gb), a.grad, _np(b.grad)

    _both(program)


# ------------------------------------------------------------------ hooks and retain_grad
def test_hooks_and_retain_grad_as_torch():
    def program(T):
        w = T.tensor(W, requires_grad=True)
        x = T.tensor(X)
        h = x @ w
        h.retain_grad()
        seen = []
        h.register_hook(lambda g: seen.append(g.clone()))
        h.register_hook(lambda g: g * 2)  # changes the gradient flowing on (and what retain_grad keeps)
        r = h.relu()
        r.register_hook(lambda g: g + 1)
        w.register_hook(lambda g: g.clamp(-1, 1))  # a leaf's hook runs before accumulation
        loss = (r * r).sum()
        loss.backward()
        return _np(h.grad), _np(seen[0]), _np(w.grad), h.retains_grad, r.retains_grad

    _both(program)


def test_hook_handle_removes_and_retained_grads_accumulate():
    def program(T):
        a = T.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = a * a
        y.retain_grad()
        handle = a.register_hook(lambda g: g * 100)
        (y.sum()).backward(retain_graph=True)
        first = _np(a.grad)
        handle.remove()
        ((y * 3).sum()).backward()
        return first, _np(a.grad), _np(y.grad)

    _both(program)


def test_hooks_inside_jit_and_eager_steps_agree():
    """A hook recorded while tracing is part of the static graph: the compiled step computes what eager does."""
    rng = np.random.default_rng(1)
    ws = rng.standard_normal((4, 3)).astype(np.float32)
    xs = rng.standard_normal((5, 4)).astype(np.float32)

    def step(T, w, x):
        h = (x @ w).tanh()
        h.register_hook(lambda g: g.clamp(-0.1, 0.1))
        (h.sum() ** 2).backward()

    expected = []
    tw = torch.tensor(ws, requires_grad=True)
    tw.register_hook(lambda g: g * 0.5)
    for _ in range(2):
        step(torch, tw, torch.tensor(xs))
        expected.append(tw.grad.numpy().copy())
    w = irc.tensor(ws, requires_grad=True)
    w.register_hook(lambda g: g * 0.5)
    jitted = irc.jit(lambda x: step(irc, w, x))
    got = []
    for _ in range(2):
        jitted(irc.tensor(xs))
        got.append(w.grad.numpy().copy())
    _same(got, expected)


def test_hook_errors():
    for T in (irc, torch):
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            T.tensor([1.0]).register_hook(lambda g: g)
        a = T.tensor([1.0, 2.0], requires_grad=True)
        y = a * 2
        y.register_hook(lambda g: g.sum())  # a gradient of another shape
        with pytest.raises(RuntimeError):
            y.sum().backward()


def test_grad_of_a_non_leaf_warns_unless_retained():
    x = irc.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None
    y.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad is None
        assert x.grad is None


# ------------------------------------------------------------------ custom Functions
def _functions(T):
    class ClampGrad(T.autograd.Function):
        """Two outputs, a non-tensor argument, a gradient that is not the derivative (straight-through)."""

        @staticmethod
        def forward(ctx, x, lo):
            ctx.save_for_backward(x)
            ctx.lo = lo
            return x.clamp(min=lo), x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            (x,) = ctx.saved_tensors
            return g1 * (x > ctx.lo).to(g1.dtype) * 5 + g2 * 2, None

    class Cube(T.autograd.Function):
        """The style with setup_context; its backward is differentiable (double backward)."""

        @staticmethod
        def forward(x):
            return x**3

        @staticmethod
        def setup_context(ctx, inputs, output):
            (ctx.x,) = inputs

        @staticmethod
        def backward(ctx, g):
            return 3 * g * ctx.x**2

    return ClampGrad, Cube


def test_custom_functions_as_torch():
    def program(T):
        ClampGrad, Cube = _functions(T)
        w = T.tensor(W, requires_grad=True)
        h = T.tensor(X) @ w
        a, b = ClampGrad.apply(h, 0.2)
        c = Cube.apply(a)
        loss = c.sum() + (b * b).sum()
        loss.backward()
        x = T.tensor([0.5, -1.5], requires_grad=True)
        (g,) = T.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        (gg,) = T.autograd.grad(g.sum(), x)
        return _np(a), _np(w.grad), _np(g), _np(gg), c.requires_grad

    _both(program, rtol=1e-4)


def test_custom_function_gradients_checked_as_torch_checks_them():
    for T in (irc, torch):

        class WrongCount(T.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g

        a = T.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="incorrect number of gradients"):
            WrongCount.apply(a, a).sum().backward()

        class WrongShape(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g[:1]

        with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
            WrongShape.apply(a).sum().backward()

        class Broadcast(T.autograd.Function):  # a gradient of a broadcast shape is summed down to the input's
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g.expand(3, 2)

        b = T.tensor([1.0, 2.0], requires_grad=True)
        Broadcast.apply(b).sum().backward()
        np.testing.assert_array_equal(_np(b.grad), [3.0, 3.0])


def test_custom_function_in_a_compiled_training_step():
    """irc.jit compiles the Function's forward and backward into the step; losses and weights match eager's."""
    rng = np.random.default_rng(2)
    ws = rng.standard_normal((4, 3)).astype(np.float32) * 0.5
    xs = rng.standard_normal((8, 4)).astype(np.float32)

    def train(T, jit):
        ClampGrad, _ = _functions(T)
        w = T.tensor(ws, requires_grad=True)
        opt = T.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            a, b = ClampGrad.apply(x @ w, 0.0)
            loss = (a**2).mean() + b.abs().mean()
            loss.backward()
            opt.step()
            return loss

        if jit:
            step = irc.jit(step)
        losses = [float(step(T.tensor(xs))) for _ in range(3)]
        return losses, _np(w)

    expected = train(torch, False)
    _same(train(irc, True), expected, rtol=1e-5)
    _same(train(irc, False), expected, rtol=1e-5)


def test_function_without_inputs_requiring_grad_and_legacy_call():
    _, Cube = _functions(irc)
    y = Cube.apply(irc.tensor([2.0]))
    assert not y.requires_grad and float(y) == 8.0
    with pytest.raises(RuntimeError, match="non-static forward"):
        _functions(irc)[0]()


# ------------------------------------------------------------------ functional and gradcheck
@pytest.mark.parametrize("name", ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"])
def test_functional_as_torch(name):
    x = np.array([0.3, -1.2, 2.0])
    y = np.array([[0.5, 1.0, -0.2]])
    v = np.array([1.0, 0.5, -1.0])

    def program(T):
        F = T.autograd.functional
        f = lambda a, b: ((a**2).sin() * b).sum(0)  # noqa: E731
        s = lambda a, b: ((a**3) * b.exp()).sum() * a[0]  # noqa: E731
        args = (T.tensor(x), T.tensor(y))
        if name == "jacobian":
            return [_np(t) for t in F.jacobian(f, args)]
        if name == "hessian":
            return [[_np(t) for t in row] for row in F.hessian(s, args)]
        if name == "vjp":
            out, g = F.vjp(f, args, T.tensor(v))
            return _np(out), [_np(t) for t in g]
        vs = (T.tensor(v), T.tensor(np.ones_like(y)))
        fn = f if name == "jvp" else s
        out, g = getattr(F, name)(fn, args, vs)
        return _np(out), [_np(t) for t in g] if isinstance(g, tuple) else _np(g)

    _both(program, rtol=1e-10, atol=1e-12)


def test_gradcheck_passes_right_gradients_and_catches_wrong_ones():
    class Wrong(irc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos() * 1.01

    a = irc.tensor(RNG.random((2, 3)), requires_grad=True)
    b = irc.tensor(RNG.random((2, 3)), requires_grad=True)
    assert irc.autograd.gradcheck(lambda p, q: (p * q.exp()).sum(1), (a, b))
    assert irc.autograd.gradgradcheck(lambda p: p.tanh() ** 2, (a,))
    assert not irc.autograd.gradcheck(Wrong.apply, (a,), raise_exception=False)
    with pytest.raises(irc.autograd.GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        irc.autograd.gradcheck(Wrong.apply, (a,))


def test_imports_as_torch():
    from irc.autograd import Function, Variable, grad  # noqa: F401
    from irc.autograd.functional import jacobian  # noqa: F401

    v = Variable(irc.tensor([1.0]), requires_grad=True)
    assert v.requires_grad and isinstance(v, Variable) and isinstance(v, irc.Tensor)
    assert realize.eager_mode() == "interpret"


def test_jit_accumulates_gradients_across_calls_as_eager():
    """Gradient accumulation over micro-batches with a jitted forward + backward: each call adds to `.grad`
    (the trace guards whether `.grad` was None when it read it, and traces again when that changes)."""
    rng = np.random.default_rng(3)
    ws = rng.standard_normal((3, 2)).astype(np.float32)
    batches = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(4)]

    def run(T, wrap):
        w = T.tensor(ws, requires_grad=True)
        opt = T.optim.SGD([w], lr=0.1)
        micro = wrap(lambda x: (x @ w).square().mean().backward())
        grads = []
        for k, x in enumerate(batches):
            micro(T.tensor(x))
            grads.append(_np(w.grad))
            if k % 2 == 1:
                opt.step()
                opt.zero_grad()
        return grads, _np(w)

    expected = run(torch, lambda f: f)
    _same(run(irc, irc.jit), expected)


def test_a_leaf_made_inside_jit():
    """`x.detach().requires_grad_()` inside irc.jit (an adversarial step): the new leaf's value is computed
    by the traced program (eagerly it is realized), and its gradient matches torch's."""
    w0 = RNG.standard_normal((3, 2)).astype(np.float32)
    x0 = RNG.standard_normal((4, 3)).astype(np.float32)

    def attack(T, x, w):
        xa = (x * 1.0).detach().requires_grad_()
        (xa @ w).square().sum().backward()
        return xa + 0.1 * xa.grad.sign()

    want = attack(torch, torch.tensor(x0), torch.tensor(w0)).detach().numpy()
    w = irc.tensor(w0)
    np.testing.assert_allclose(irc.jit(lambda x: attack(irc, x, w))(x0).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(attack(irc, irc.tensor(x0), w).numpy(), want, rtol=1e-6)
