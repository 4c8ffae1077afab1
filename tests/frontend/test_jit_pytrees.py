"""irc.jit with keyword arguments and nested tuples/lists/dicts of tensors, as inputs and outputs."""

import numpy as np
import pytest

import irc
from irc.errors import FrontendError
from irc.frontend.pytree import flatten, num_leaves, unflatten


def test_flatten_round_trips_and_keeps_static_values():
    value = ((1.0, "a"), {"w": np.ones(2), "n": None}, [np.zeros(3)])
    leaves, tree = flatten(value, lambda v: isinstance(v, np.ndarray))
    assert [x.shape for x in leaves] == [(2,), (3,)] and num_leaves(tree) == 2
    rebuilt = unflatten(tree, leaves)
    assert rebuilt[0] == (1.0, "a") and rebuilt[1]["n"] is None and rebuilt[2][0] is leaves[1]
    assert isinstance(rebuilt[2], list) and list(rebuilt[1]) == ["w", "n"]
    hash(tree)  # a tree is part of a jit signature
    no_leaves = lambda v: False  # noqa: E731
    assert flatten(1, no_leaves)[1] != flatten(1.0, no_leaves)[1]  # int and float promote differently


def test_keyword_tensors_and_static_keywords():
    calls = []

    @irc.jit
    def f(x, y, *, scale=1.0, relu=False):
        calls.append(1)
        z = (x * scale + y) if not relu else (x * scale + y).relu()
        return z

    x = np.array([1.0, -2.0, 3.0], np.float32)
    y = np.array([0.5, 0.5, -9.0], np.float32)
    np.testing.assert_allclose(f(x, y=y).numpy(), x + y)
    np.testing.assert_allclose(f(x, y=y, scale=2.0).numpy(), 2 * x + y)
    np.testing.assert_allclose(f(x, y=y, scale=2.0, relu=True).numpy(), np.maximum(2 * x + y, 0))
    np.testing.assert_allclose(f(y=y, x=x, scale=2.0, relu=True).numpy(), np.maximum(2 * x + y, 0))
    n = len(calls)
    np.testing.assert_allclose(f(x, y=2 * y, scale=2.0).numpy(), 2 * x + 2 * y)  # same signature: no trace
    assert len(calls) == n


def test_nested_inputs_and_outputs():
    @irc.jit
    def step(batch, params):
        h = batch["x"] @ params[0]
        out = h + params[1]
        return {"loss": ((out - batch["y"]) ** 2).mean(), "parts": (h, [out])}

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3), np.float32), rng.standard_normal((4, 2), np.float32)
    w, b = rng.standard_normal((3, 2), np.float32), rng.standard_normal(2).astype(np.float32)
    got = step({"x": x, "y": irc.tensor(y)}, (w, b))
    assert set(got) == {"loss", "parts"} and isinstance(got["parts"], tuple) and isinstance(got["parts"][1], list)
    np.testing.assert_allclose(got["parts"][0].numpy(), x @ w, rtol=1e-5)
    np.testing.assert_allclose(got["parts"][1][0].numpy(), x @ w + b, rtol=1e-5)
    np.testing.assert_allclose(got["loss"].item(), ((x @ w + b - y) ** 2).mean(), rtol=1e-5)


def test_a_jitted_training_step_with_a_dict_batch_matches_eager():
    irc.manual_seed(0)
    model = irc.nn.Linear(3, 2)
    opt = irc.optim.SGD(model.parameters(), lr=0.1)

    def step(batch):
        opt.zero_grad()
        loss = ((model(batch["x"]) - batch["y"]) ** 2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss}

    jitted = irc.jit(step)
    rng = np.random.default_rng(1)
    batches = [
        {"x": rng.standard_normal((5, 3), np.float32), "y": rng.standard_normal((5, 2), np.float32)} for _ in range(3)
    ]
    start = [p.detach().numpy().copy() for p in model.parameters()]
    jit_losses = [jitted(b)["loss"].item() for b in batches]
    after_jit = [p.detach().numpy().copy() for p in model.parameters()]
    with irc.no_grad():
        for p, s in zip(model.parameters(), start):
            p.copy_(irc.tensor(s))
    eager_losses = [step({k: irc.tensor(v) for k, v in b.items()})["loss"].item() for b in batches]
    np.testing.assert_allclose(jit_losses, eager_losses, rtol=1e-5)
    for p, a in zip(model.parameters(), after_jit):
        np.testing.assert_allclose(p.detach().numpy(), a, rtol=1e-5, atol=1e-6)


def test_returning_something_else_names_it():
    @irc.jit
    def f(x):
        return {"y": x + 1, "bad": bytearray(b"no")}

    with pytest.raises(FrontendError, match=r"what f returned\['bad'\]: a bytearray is neither a tensor"):
        f(np.ones(2, np.float32))


def test_an_unhashable_argument_names_it():
    f = irc.jit(lambda x, opts: x + 1)
    with pytest.raises(TypeError, match=r"arguments\[0\]\[1\]\['k'\]: a bytearray"):
        f(np.ones(2, np.float32), {"k": bytearray(b"no")})


def test_static_floats_are_told_apart_by_their_bits():
    """-0.0 == 0.0 in Python, but a trace of `x * 0.0` is not one of `x * -0.0`; a NaN (equal to
    nothing) still finds its trace again."""
    f = irc.jit(lambda x, s: 1 / (x * s), target="ref")
    x = np.array([2.0, -3.0], np.float32)
    with np.errstate(divide="ignore"):
        for s in (0.0, -0.0):
            np.testing.assert_array_equal(f(x, s).numpy(), 1 / (x * np.float32(s)))
    for _ in range(3):
        assert np.isnan(f(x, float("nan")).numpy()).all()
    assert f.cache_size == 3
    leaves, tree = flatten((-0.0, float("inf")), lambda v: False)
    assert str(unflatten(tree, leaves)) == "(-0.0, inf)"
