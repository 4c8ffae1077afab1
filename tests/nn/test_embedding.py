"""nn.Embedding, F.embedding (padding_idx), F.one_hot and F.scaled_dot_product_attention against PyTorch."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from irc.errors import FrontendError
from tests.nn.test_layers import check_function

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
W = rng.standard_normal((6, 4)).astype(np.float32)
INDEX = np.array([[0, 2, 5], [2, 2, 1]])


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_functional_embedding(padding_idx):
    check_function(
        lambda w: F.embedding(irc.tensor(INDEX), w, padding_idx=padding_idx),
        lambda w: torch.nn.functional.embedding(torch.tensor(INDEX), w, padding_idx=padding_idx),
        W,
    )


def test_module_init_repr_and_state_dict_keys():
    irc.manual_seed(0)
    module, reference = nn.Embedding(6, 4, padding_idx=-2), torch.nn.Embedding(6, 4, padding_idx=-2)
    assert repr(module) == repr(reference) == "Embedding(6, 4, padding_idx=4)"
    assert list(module.state_dict()) == list(reference.state_dict()) == ["weight"]
    weight = module.weight.numpy()
    assert weight.shape == (6, 4) and weight.dtype == np.float32
    np.testing.assert_array_equal(weight[4], 0.0)
    assert 0.5 < weight[:4].std() < 1.5  # N(0, 1), as torch


def test_module_forward_and_gradient_like_torch():
    module, reference = nn.Embedding(6, 4, padding_idx=0), torch.nn.Embedding(6, 4, padding_idx=0)
    module.load_state_dict({"weight": reference.weight.detach().numpy()})
    out, expected = module(irc.tensor(INDEX)), reference(torch.tensor(INDEX))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy())
    out.square().sum().backward()
    expected.square().sum().backward()
    np.testing.assert_allclose(module.weight.grad.numpy(), reference.weight.grad.numpy(), rtol=1e-6)


def test_module_under_jit_llvm():
    module = nn.Embedding(6, 4)
    step = irc.jit(lambda i: module(i).sum(-1), target="llvm")
    np.testing.assert_allclose(step(irc.tensor(INDEX)).numpy(), module.weight.numpy()[INDEX].sum(-1), rtol=1e-6)


def test_embedding_errors():
    with pytest.raises(FrontendError, match="'indices' to have one of the following scalar types: Long, Int"):
        F.embedding(irc.tensor([0.0]), irc.tensor(W))
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)


def test_one_hot():
    t = np.array([[0, 3], [1, 1]])
    for num_classes in (-1, 5):
        np.testing.assert_array_equal(
            F.one_hot(irc.tensor(t), num_classes).numpy(), torch.nn.functional.one_hot(torch.tensor(t), num_classes)
        )
    assert F.one_hot(irc.tensor(t)).dtype == np.int64
    with pytest.raises(FrontendError, match="LongTensor"):
        F.one_hot(irc.tensor(t, dtype=irc.int32))
    with pytest.raises(FrontendError, match="give num_classes inside irc.jit"):
        irc.jit(F.one_hot)(irc.tensor(t))


Q, K, V = (rng.standard_normal((2, 3, 5, 4)).astype(np.float32) for _ in range(3))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"is_causal": True}, {"attn_mask": np.tril(np.ones((5, 5), bool))}, {"attn_mask": W[:5, :1], "scale": 0.3}],
    ids=["plain", "causal", "bool_mask", "float_mask_scale"],
)
def test_scaled_dot_product_attention(kwargs):
    ours = {k: irc.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    theirs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    check_function(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **ours),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, **theirs),
        Q,
        K,
        V,
        rtol=1e-4,
        atol=1e-5,
    )
