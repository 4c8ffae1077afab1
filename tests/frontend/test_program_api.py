"""Names the real programs of tests/e2e/programs need (`view_as`, `multinomial`, a tensor as a list
index), compared with torch 2.13."""

import numpy as np
import pytest

import irc

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("m", [irc, torch], ids=["irc", "torch"])
def test_view_as_and_reshape_as(m):
    x, target = m.arange(6), m.zeros(2, 3)
    assert x.view_as(target).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert x.reshape_as(target.t()).shape == (3, 2)
    pred = m.tensor([[1], [2]])
    assert m.tensor([1, 3]).view_as(pred).eq(pred).sum().item() == 1


def test_view_as_gradient_matches_torch():
    a = np.arange(6.0).reshape(2, 3)
    grads = []
    for m in (irc, torch):
        x = m.tensor(a, requires_grad=True)
        (x.view_as(m.zeros(3, 2)) * m.tensor([[1.0, 2.0]] * 3, dtype=m.float64)).sum().backward()
        grads.append(np.asarray(x.grad.tolist()))
    np.testing.assert_array_equal(*grads)


@pytest.mark.parametrize("value", [1, [2], True])
def test_one_element_int_tensor_is_an_index(value):
    classes = ["a", "b", "c"]
    assert classes[irc.tensor(value)] == classes[torch.tensor(value)]
    assert classes[irc.tensor([[0.1, 0.9, 0.0]]).argmax(1)] == "b"


@pytest.mark.parametrize("value", [1.0, [1, 2]])
def test_index_of_a_float_or_longer_tensor_is_torchs_error(value):
    for m in (irc, torch):
        with pytest.raises(TypeError, match="only integer tensors of a single element can be converted to an index"):
            [1, 2, 3][m.tensor(value)]


def test_multinomial_shapes_dtype_and_support():
    irc.manual_seed(0)
    probs = irc.tensor([[0.0, 1.0, 3.0, 0.0], [2.0, 0.0, 0.0, 0.0]])
    for replacement in (False, True):
        out = irc.multinomial(probs, 1, replacement=replacement)
        ref = torch.multinomial(torch.tensor(probs.numpy()), 1, replacement=replacement)
        assert (out.shape, out.dtype) == (tuple(ref.shape), np.int64)
        assert out[1].tolist() == [0] == ref[1].tolist()  # the only category of weight > 0
        assert set(out[0].tolist()) <= {1, 2}
    assert probs[0].multinomial(3, replacement=True).shape == (3,)
    # without replacement, zero-weight categories come last (as torch's)
    drawn = irc.multinomial(irc.tensor([1.0, 0.0, 2.0]), 3)
    assert sorted(drawn.tolist()[:2]) == [0, 2] and drawn.tolist()[2] == 1
    assert torch.multinomial(torch.tensor([1.0, 0.0, 2.0]), 3).tolist()[2] == 1


def test_multinomial_frequencies_follow_the_weights():
    irc.manual_seed(1)
    weights = np.array([1.0, 2.0, 5.0])
    counts = np.bincount(irc.multinomial(irc.tensor(weights), 4000, replacement=True).numpy(), minlength=3)
    np.testing.assert_allclose(counts / 4000, weights / weights.sum(), atol=0.03)
    firsts = np.bincount(
        [irc.multinomial(irc.tensor(weights), 2).tolist()[0] for _ in range(600)], minlength=3
    )  # the first draw without replacement also follows the weights
    np.testing.assert_allclose(firsts / 600, weights / weights.sum(), atol=0.07)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (([0.5, -1.0], 1), {}),
        (([0.5, float("nan")], 1), {}),
        (([0.0, 0.0], 1), {}),
        (([[[1.0]]], 1), {}),
        (([1, 2], 1), {}),
        (([1.0, 2.0], 0), {}),
        (([1.0, 2.0], 3), {}),
    ],
)
def test_multinomial_errors_are_torchs(args, kwargs):
    data, n = args
    with pytest.raises(RuntimeError) as ref:
        torch.multinomial(torch.tensor(data), n, **kwargs)
    message = str(ref.value).split(", got")[0]
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        irc.multinomial(irc.tensor(data), n, **kwargs)


def test_multinomial_inside_jit_is_an_error():
    f = irc.jit(lambda p: irc.multinomial(p, 1))
    with pytest.raises(irc.FrontendError, match="eagerly only"):
        f(irc.tensor([1.0, 2.0]))


def test_a_name_assigned_on_irc_survives_a_later_submodule_access(monkeypatch):
    """`irc`'s lazy API loads once: a submodule reached through `irc.__getattr__` (as `from irc import
    optim` does the first time) after a monkeypatch of `irc.randn_like` (tests/e2e/test_programs.py
    patches it) must not put the original back."""
    monkeypatch.setattr(irc, "randn_like", "patched")
    assert irc.__getattr__("optim").__name__ == "irc.optim"
    assert irc.__getattr__("utils").__name__ == "irc.utils"
    assert irc.randn_like == "patched"
