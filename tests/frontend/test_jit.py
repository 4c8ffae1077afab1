"""irc.jit calls on the CPU: results and state updates against numpy, and what each call's memory keeps alive."""

import gc
import weakref

import numpy as np

import irc
import irc.nn as nn
import irc.optim as optim


def linear_sgd_step(lr: float = 0.1):
    """A jitted SGD step on `Linear(4, 3)` with loss sum(model(x)); returns (step, model)."""
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=lr)

    def step(x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss

    return irc.jit(step), model


def test_step_results_and_updates_match_numpy():
    step, model = linear_sgd_step()
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    for _ in range(3):
        w, b = model.weight.numpy().copy(), model.bias.numpy().copy()
        loss = step(irc.tensor(x))
        np.testing.assert_allclose(loss.item(), (x @ w.T + b).sum(), rtol=1e-5)
        np.testing.assert_allclose(model.weight.grad.numpy(), np.tile(x.sum(0), (3, 1)), rtol=1e-5)
        np.testing.assert_allclose(model.weight.numpy(), w - 0.1 * x.sum(0), rtol=1e-5)
        np.testing.assert_allclose(model.bias.numpy(), b - 0.1 * 2, rtol=1e-5)


def test_updated_state_is_new_memory_on_every_call():
    step, model = linear_sgd_step()
    x = irc.tensor(np.ones((2, 4), np.float32))
    step(x)
    before = [model.weight.numpy(), model.bias.numpy(), model.weight.grad.numpy()]
    kept = [a.copy() for a in before]
    step(x)
    after = [model.weight.numpy(), model.bias.numpy(), model.weight.grad.numpy()]
    for old, copy, new in zip(before, kept, after, strict=True):
        assert not np.shares_memory(old, new)
        np.testing.assert_array_equal(old, copy)  # the later call did not write into the earlier one's arrays


def test_a_kept_result_does_not_keep_its_steps_state_alive():
    step, model = linear_sgd_step()
    x = irc.tensor(np.ones((2, 4), np.float32))
    losses = [step(x)]
    state = model.weight.numpy()
    memory = weakref.ref(state.base if state.base is not None else state)  # the first call's outputs
    del state
    losses.append(step(x))
    gc.collect()
    assert memory() is None
    assert losses[0].item() != losses[1].item()


def test_jit_traces_on_the_targets_device_without_opening_it():
    """The trace's inputs are on the target's device (where the program runs); CPU constants and
    numpy operands mix in as constants of the program, and tracing opens no device (no GPU here)."""
    seen = []

    def f(x):
        seen.append(x.device)
        return x * 2 + np.arange(3, dtype=np.float32) + irc.tensor([1.0, 2.0, 3.0])

    lowering = irc.jit(f, target={"kind": "cuda", "arch": "sm_90"}).lower(np.ones(3, np.float32))
    assert seen == ["cuda"] and "__global__" in lowering.stages["target"]


def test_a_function_that_returns_no_tensor_says_what_it_returned():
    import pytest

    from irc.errors import FrontendError

    x = np.ones(3, np.float32)
    with pytest.raises(FrontendError, match=r"returns no tensor \(it returned int 3\)"):
        irc.jit(lambda a: 3)(x)
    # lists are constants, not tensors: their sum is a list
    with pytest.raises(FrontendError, match=r"it returned list \[1.0, 2.0, 3.0\].*a Python list or number is a const"):
        irc.jit(lambda a, b: a + b)([1.0, 2.0], [3.0])
    with pytest.raises(FrontendError, match="returns nothing and updates no tensor"):
        irc.jit(lambda a: None)(x)


def test_asking_for_a_traced_value_names_the_line_that_asked():
    import pytest

    from irc.errors import FrontendError

    def f(a):
        return np.asarray(a)  # the line the error names

    line = f.__code__.co_firstlineno + 1
    with pytest.raises(FrontendError, match=rf"test_jit.py:{line}: the value of a traced tensor is not known"):
        irc.jit(f)(np.ones(3, np.float32))
