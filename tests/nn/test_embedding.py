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


DEAD_ROW = np.ones((5, 5), bool)
DEAD_ROW[2] = False  # query 2 may attend to nothing


@pytest.mark.parametrize(
    "mask", [DEAD_ROW, np.where(DEAD_ROW, 0.0, -np.inf).astype(np.float32)], ids=["bool_mask", "float_mask"]
)
def test_a_fully_masked_row_attends_to_nothing_as_torch(mask):
    """torch 2.13 gives that row zeros, and zero gradients (no nan anywhere)."""
    check_function(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=irc.tensor(mask)),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(mask)),
        Q,
        K,
        V,
        rtol=1e-4,
        atol=1e-5,
    )
    out = F.scaled_dot_product_attention(irc.tensor(Q), irc.tensor(K), irc.tensor(V), attn_mask=irc.tensor(mask))
    np.testing.assert_array_equal(out.numpy()[:, :, 2], 0.0)


@pytest.mark.parametrize("kv_heads", [(2, 2), (2, 1), (4, 4)])
def test_grouped_query_attention_repeats_the_kv_heads_as_torch(kv_heads):
    q = rng.standard_normal((2, 4, 3, 8)).astype(np.float32)
    k = rng.standard_normal((2, kv_heads[0], 5, 8)).astype(np.float32)
    v = rng.standard_normal((2, kv_heads[1], 5, 8)).astype(np.float32)
    check_function(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        q,
        k,
        v,
        rtol=1e-4,
        atol=1e-5,
    )
    with pytest.raises(FrontendError, match="Number of heads in key and value must divide the number of heads in"):
        F.scaled_dot_product_attention(irc.tensor(q), irc.tensor(k[:, :1].repeat(3, 1)), irc.tensor(v), enable_gqa=True)


@pytest.mark.parametrize("freeze", [True, False])
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_from_pretrained_like_torch(freeze, padding_idx):
    module = nn.Embedding.from_pretrained(irc.tensor(W), freeze=freeze, padding_idx=padding_idx)
    reference = torch.nn.Embedding.from_pretrained(torch.tensor(W), freeze=freeze, padding_idx=padding_idx)
    assert repr(module) == repr(reference)
    assert module.weight.requires_grad == reference.weight.requires_grad == (not freeze)
    np.testing.assert_array_equal(module.weight.numpy(), W)  # the padding row keeps its values, as torch
    out, expected = module(irc.tensor(INDEX)), reference(torch.tensor(INDEX))
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    if not freeze:
        out.square().sum().backward()
        expected.square().sum().backward()
        np.testing.assert_allclose(module.weight.grad.numpy(), reference.weight.grad.numpy(), rtol=1e-6)
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dimensional"):
        nn.Embedding.from_pretrained(irc.tensor(W[0]))
