"""nn.MultiheadAttention and the transformer layers against PyTorch on the same weights: outputs, attention
weights, gradients of inputs and parameters, masks of every kind, and jitted training steps."""

import math

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.errors import FrontendError

torch = pytest.importorskip("torch")

L, S, N, E, H, FF = 4, 5, 2, 8, 2, 16


def paired(make):
    """The torch module `make(torch.nn)` and irc's `make(irc.nn)` holding torch's values."""
    torch.manual_seed(0)
    reference, module = make(torch.nn), make(nn)
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return module, reference


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def both(array, requires_grad=False):
    """The same values as an irc and a torch tensor."""
    if array is None:
        return None, None
    return irc.tensor(array, requires_grad=requires_grad), torch.tensor(array, requires_grad=requires_grad)


def close(ours, theirs, tol=1e-5, what=""):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=tol, atol=tol, err_msg=what)


def backward_both(outs, refs):
    """Backward of the same weighted sum of each framework's outputs (None entries skipped)."""
    total, ref_total = 0.0, 0.0
    for i, (out, ref) in enumerate(zip(outs, refs)):
        if out is None:
            continue
        seed = randn(*ref.shape, seed=10 + i)
        total = total + (out * irc.tensor(seed)).sum()
        ref_total = ref_total + (ref * torch.from_numpy(seed)).sum()
    total.backward()
    ref_total.backward()


def check_gradients(module, reference, inputs, tol=1e-4):
    for (name, p), (_, q) in zip(module.named_parameters(), reference.named_parameters()):
        close(p.grad, q.grad, tol, f"gradient of {name}")
    for i, (x, t) in enumerate(inputs):
        close(x.grad, t.grad, tol, f"gradient of input {i}")


# ---------------------------------------------------------------- MultiheadAttention


def test_mha_parameters_init_and_repr_like_torch():
    irc.manual_seed(0)
    for kwargs in [{}, dict(kdim=6, vdim=5), dict(bias=False), dict(add_bias_kv=True)]:
        module, reference = nn.MultiheadAttention(E, H, **kwargs), torch.nn.MultiheadAttention(E, H, **kwargs)
        assert list(module.state_dict()) == list(reference.state_dict()), kwargs
        for (name, p), (_, q) in zip(module.named_parameters(), reference.named_parameters()):
            assert p.shape == tuple(q.shape), name
        assert repr(module) == repr(reference)
    module = nn.MultiheadAttention(E, H)
    w = module.in_proj_weight.numpy()
    bound = math.sqrt(6 / (E + 3 * E))  # xavier_uniform over (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not module.in_proj_bias.numpy().any() and not module.out_proj.bias.numpy().any()
    assert module.q_proj_weight is None and module._qkv_same_embed_dim
    separate = nn.MultiheadAttention(E, H, kdim=6)
    assert separate.in_proj_weight is None and separate.k_proj_weight.shape == (E, 6)


CAUSAL = np.triu(np.full((L, L), -np.inf, np.float32), 1)
BOOL_MASK = np.random.default_rng(3).random((L, S)) < 0.4
BOOL_MASK[:, 0] = False  # every query keeps a key (a fully masked row is NaN in both)
PADDING = np.zeros((N, S), bool)
PADDING[1, 3:] = True

# name: (module kwargs, query/key/value shapes, forward kwargs (numpy masks), self-attention)
MHA_CASES = {
    "self-attention": (dict(), None, dict(), True),
    "cross-attention": (dict(), None, dict(), False),
    "batch_first": (dict(batch_first=True), None, dict(), False),
    "batch_first-self": (dict(batch_first=True), None, dict(), True),
    "bool-attn_mask": (dict(), None, dict(attn_mask=BOOL_MASK), False),
    "float-attn_mask": (dict(), None, dict(attn_mask=randn(L, S, seed=4)), False),
    "3d-attn_mask": (dict(), None, dict(attn_mask=randn(N * H, L, S, seed=5)), False),
    "key_padding_mask": (dict(), None, dict(key_padding_mask=PADDING), False),
    "float-key_padding_mask": (dict(), None, dict(key_padding_mask=np.where(PADDING, -1e9, 0.0).astype(np.float32)), False),
    "both-masks": (dict(batch_first=True), None, dict(key_padding_mask=PADDING, attn_mask=BOOL_MASK), False),
    "per-head-weights": (dict(), None, dict(average_attn_weights=False, attn_mask=BOOL_MASK), False),
    "no-weights": (dict(), None, dict(need_weights=False, attn_mask=randn(L, S, seed=4)), False),
    "is_causal": (dict(), (L, L), dict(need_weights=False, attn_mask=CAUSAL, is_causal=True), True),
    "is_causal-weights": (dict(), (L, L), dict(attn_mask=CAUSAL, is_causal=True), True),
    "is_causal-padding": (dict(), (L, L), dict(attn_mask=CAUSAL, is_causal=True, key_padding_mask=PADDING[:, :L]), True),
    "kdim-vdim": (dict(kdim=6, vdim=5), None, dict(), False),
    "kdim-vdim-batch_first": (dict(kdim=6, vdim=5, batch_first=True), None, dict(attn_mask=BOOL_MASK), False),
    "no-bias": (dict(bias=False), None, dict(), False),
    "bias_kv-zero_attn": (dict(add_bias_kv=True, add_zero_attn=True), None, dict(key_padding_mask=PADDING), False),
}  # fmt: skip


@pytest.mark.parametrize("case", MHA_CASES)
def test_mha_outputs_weights_and_gradients_match_torch(case):
    kwargs, lengths, call, self_attention = MHA_CASES[case]
    module, reference = paired(lambda m: m.MultiheadAttention(E, H, **kwargs))
    lq, ls = lengths or (L, S)
    batch_first = kwargs.get("batch_first", False)
    shape = (lambda n, e: (N, n, e)) if batch_first else (lambda n, e: (n, N, e))
    if self_attention:
        x = both(randn(*shape(lq, E)), requires_grad=True)
        inputs, args, ref_args = [x], (x[0],) * 3, (x[1],) * 3
    else:
        arrays = [randn(*shape(lq, E)), randn(*shape(ls, kwargs.get("kdim", E)), seed=1)]
        arrays.append(randn(*shape(ls, kwargs.get("vdim", E)), seed=2))
        inputs = [both(a, requires_grad=True) for a in arrays]
        args, ref_args = [x for x, _ in inputs], [t for _, t in inputs]
    masks = {k: both(v) if isinstance(v, np.ndarray) else (v, v) for k, v in call.items()}
    out, weights = module(*args, **{k: v[0] for k, v in masks.items()})
    ref_out, ref_weights = reference(*ref_args, **{k: v[1] for k, v in masks.items()})
    close(out, ref_out, what="output")
    assert (weights is None) == (ref_weights is None)
    if weights is not None:
        close(weights, ref_weights, what="weights")
    backward_both([out, weights], [ref_out, ref_weights])
    check_gradients(module, reference, inputs)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_with_a_fully_padded_sequence_matches_torch(need_weights):
    """Without weights torch runs scaled_dot_product_attention: a batch entry whose keys are all padding
    attends to nothing (its output is the output projection's bias, its gradients zeros); with weights
    torch's softmax makes it nan, and so does irc's."""
    module, reference = paired(lambda m: m.MultiheadAttention(E, H))
    with torch.no_grad():
        reference.in_proj_bias.copy_(torch.from_numpy(randn(3 * E, seed=7)))
        reference.out_proj.bias.copy_(torch.from_numpy(randn(E, seed=8)))
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    padding = np.zeros((N, S), bool)
    padding[1] = True
    q, k, v = (both(randn(n, N, E, seed=i), requires_grad=True) for i, n in enumerate((L, S, S)))
    mask = both(padding)
    out, _ = module(q[0], k[0], v[0], key_padding_mask=mask[0], need_weights=need_weights)
    ref_out, _ = reference(q[1], k[1], v[1], key_padding_mask=mask[1], need_weights=need_weights)
    if need_weights:
        assert np.isnan(ref_out[:, 1].detach().numpy()).all() and np.isnan(out.numpy()[:, 1]).all()
        return
    close(out, ref_out, what="output")
    backward_both([out], [ref_out])
    check_gradients(module, reference, [q, k, v])
    assert not np.isnan(module.in_proj_weight.grad.numpy()).any()


def test_mha_unbatched_inputs():
    module, reference = paired(lambda m: m.MultiheadAttention(E, H, kdim=6))
    q, k, v = both(randn(L, E)), both(randn(S, 6, seed=1)), both(randn(S, E, seed=2))
    mask, padding = both(randn(H, L, S, seed=3)), both(PADDING[1])
    for masks, average in [(dict(attn_mask=mask), True), (dict(key_padding_mask=padding), False)]:
        out, weights = module(*(x for x, _ in (q, k, v)), average_attn_weights=average,
                              **{n: m[0] for n, m in masks.items()})  # fmt: skip
        ref_out, ref_weights = reference(*(t for _, t in (q, k, v)), average_attn_weights=average,
                                         **{n: m[1] for n, m in masks.items()})  # fmt: skip
        assert out.shape == tuple(ref_out.shape) == (L, E) and weights.shape == tuple(ref_weights.shape)
        close(out, ref_out)
        close(weights, ref_weights)


def test_mha_dropout_is_active_in_training_only():
    module, reference = paired(lambda m: m.MultiheadAttention(E, H, dropout=0.5))
    x = irc.tensor(randn(L, N, E))
    irc.manual_seed(1)
    first, second = module(x, x, x)[1].numpy(), module(x, x, x)[1].numpy()
    assert not np.allclose(first, second)  # new dropout masks at each call
    module.eval(), reference.eval()
    close(module(x, x, x)[0], reference(*(torch.from_numpy(x.numpy()),) * 3)[0])


def test_mha_errors_carry_torch_messages():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 2)
    module = nn.MultiheadAttention(E, H)
    q, kv = irc.tensor(randn(L, N, E)), irc.tensor(randn(S, N, E))
    with pytest.raises(
        FrontendError, match=r"The shape of the 2D attn_mask is torch.Size\(\[4, 4\]\), but should be \(4, 5\)."
    ):
        module(q, kv, kv, attn_mask=irc.zeros(L, L))
    with pytest.raises(
        FrontendError, match=r"The shape of the 3D attn_mask is torch.Size\(\[2, 4, 5\]\), but should be \(4, 4, 5\)."
    ):
        module(q, kv, kv, attn_mask=irc.zeros(2, L, S))
    with pytest.raises(FrontendError, match="Need attn_mask if specifying the is_causal hint"):
        module(q, kv, kv, is_causal=True)
    with pytest.raises(FrontendError, match="only bool and floating types of attn_mask are supported"):
        module(q, kv, kv, attn_mask=irc.zeros(L, S, dtype=irc.long))
    with pytest.raises(FrontendError, match=r"Expected key_padded_mask.shape\[1\] to be 5, but got 4"):
        module(q, kv, kv, key_padding_mask=irc.zeros(N, L, dtype=irc.bool))
    with pytest.raises(FrontendError, match="query should be unbatched 2D or batched 3D tensor but received 4-D"):
        module(q[None], kv, kv)
    with pytest.raises(FrontendError, match="expected `key` and `value` to be 3-D but found 2-D and 3-D"):
        module(q, kv[0], kv)
    with pytest.raises(FrontendError, match="was expecting embedding dimension of 8, but got 6"):
        module(q[..., :6], kv, kv)


def test_mha_under_jit_llvm():
    module, reference = paired(lambda m: m.MultiheadAttention(E, H, batch_first=True))
    x, padding, mask = both(randn(N, L, E)), both(PADDING[:, :L]), both(BOOL_MASK[:, :L])
    attend = irc.jit(lambda x, p, m: module(x, x, x, key_padding_mask=p, attn_mask=m)[0], target="llvm")
    close(
        attend(x[0], padding[0], mask[0]),
        reference(x[1], x[1], x[1], key_padding_mask=padding[1], attn_mask=mask[1])[0],
    )


# ---------------------------------------------------------------- encoder and decoder layers


ENCODER_CASES = {
    "post-norm": dict(),
    "norm_first": dict(norm_first=True),
    "gelu": dict(activation="gelu"),
    "gelu-norm_first-batch_first": dict(activation="gelu", norm_first=True, batch_first=True),
    "module-activation": dict(activation=lambda m: m.GELU(approximate="tanh")),
    "no-bias": dict(bias=False, layer_norm_eps=1e-3),
}


@pytest.mark.parametrize("case", ENCODER_CASES)
def test_encoder_layer_matches_torch_with_gradients(case):
    kwargs = dict(ENCODER_CASES[case])
    activation = kwargs.pop("activation", "relu")

    def make(m):
        act = activation(m) if callable(activation) else activation
        return m.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=act, **kwargs)

    module, reference = paired(make)
    assert list(module.state_dict()) == list(reference.state_dict())
    x = both(randn(*((N, L, E) if kwargs.get("batch_first") else (L, N, E))), requires_grad=True)
    mask, padding = both(BOOL_MASK[:, :L]), both(PADDING[:, :L])
    out = module(x[0], src_mask=mask[0], src_key_padding_mask=padding[0])
    ref_out = reference(x[1], src_mask=mask[1], src_key_padding_mask=padding[1])
    close(out, ref_out)
    backward_both([out], [ref_out])
    check_gradients(module, reference, [x])


def test_encoder_layer_eval_fast_path_and_unbatched():
    module, reference = paired(lambda m: m.TransformerEncoderLayer(E, H, FF, batch_first=True))
    module.eval(), reference.eval()
    x = both(randn(N, L, E))
    with torch.no_grad():  # torch takes its fused fast path here
        close(module(x[0]), reference(x[1]))
        close(module(x[0][0]), reference(x[1][0]))  # unbatched (L, E)


def test_encoder_layer_is_causal_needs_the_mask():
    module, reference = paired(lambda m: m.TransformerEncoderLayer(E, H, FF, dropout=0.0))
    x = both(randn(L, N, E))
    mask = both(CAUSAL)
    close(module(x[0], src_mask=mask[0], is_causal=True), reference(x[1], src_mask=mask[1], is_causal=True))
    with pytest.raises(FrontendError, match="Need attn_mask if specifying the is_causal hint"):
        module(x[0], is_causal=True)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")


def test_two_layer_encoder_matches_torch():
    def make(m):
        layer = m.TransformerEncoderLayer(E, H, FF, dropout=0.0)
        return m.TransformerEncoder(layer, 2, norm=m.LayerNorm(E), enable_nested_tensor=False)

    module, reference = paired(make)
    assert list(module.state_dict()) == list(reference.state_dict())
    assert module.layers[0].linear1.weight is not module.layers[1].linear1.weight
    x = both(randn(L, N, E), requires_grad=True)
    mask, padding = both(CAUSAL), both(PADDING[:, :L])
    out = module(x[0], mask=mask[0], src_key_padding_mask=padding[0])
    ref_out = reference(x[1], mask=mask[1], src_key_padding_mask=padding[1])
    close(out, ref_out)
    backward_both([out], [ref_out])
    check_gradients(module, reference, [x])


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    module, reference = paired(lambda m: m.TransformerDecoderLayer(E, H, FF, 0.0, norm_first=norm_first))
    assert list(module.state_dict()) == list(reference.state_dict())
    tgt, memory = both(randn(L, N, E), requires_grad=True), both(randn(S, N, E, seed=1), requires_grad=True)
    masks = dict(tgt_mask=both(CAUSAL), memory_key_padding_mask=both(PADDING), memory_mask=both(BOOL_MASK))
    out = module(tgt[0], memory[0], tgt_is_causal=True, **{k: v[0] for k, v in masks.items()})
    ref_out = reference(tgt[1], memory[1], tgt_is_causal=True, **{k: v[1] for k, v in masks.items()})
    close(out, ref_out)
    backward_both([out], [ref_out])
    check_gradients(module, reference, [tgt, memory])


def test_small_transformer_matches_torch():
    def make(m):
        return m.Transformer(E, H, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=FF, dropout=0.0)

    module, reference = paired(make)
    assert list(module.state_dict()) == list(reference.state_dict())
    src, tgt = both(randn(S, N, E)), both(randn(L, N, E, seed=1))
    mask = nn.Transformer.generate_square_subsequent_mask(L)
    np.testing.assert_array_equal(mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(L).numpy())
    out = module(src[0], tgt[0], tgt_mask=mask, src_key_padding_mask=irc.tensor(PADDING))
    ref_out = reference(src[1], tgt[1], tgt_mask=torch.from_numpy(mask.numpy()),
                        src_key_padding_mask=torch.from_numpy(PADDING))  # fmt: skip
    close(out, ref_out)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        module(src[0], tgt[0][:, :1])
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        module(src[0][..., :4], tgt[0][..., :4])


def test_transformer_init_is_xavier_uniform():
    irc.manual_seed(0)
    model = nn.Transformer(E, H, 1, 1, FF)
    w = model.encoder.layers[0].linear1.weight.numpy()  # (FF, E): xavier, not Linear's kaiming
    bound = math.sqrt(6 / (E + FF))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert model.decoder.norm.weight.numpy().tolist() == [1.0] * E


# ---------------------------------------------------------------- training under irc.jit


@pytest.mark.parametrize("opt_name, opt_kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=1e-2))])
def test_jitted_training_steps_match_torch(opt_name, opt_kwargs, reference_jit):
    train_and_compare(opt_name, opt_kwargs)


@pytest.mark.slow  # ~30 s: the compile of the whole step
def test_jitted_training_steps_through_llvm():
    train_and_compare("Adam", dict(lr=1e-2), target="llvm")


def train_and_compare(opt_name: str, opt_kwargs: dict, target: str = "llvm"):
    """Two jitted steps (forward, backward, update) of an encoder layer and a classifier, and torch's."""

    def make(m):
        return m.Sequential(m.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True), m.Linear(E, 3))

    model, reference = paired(make)
    opt = getattr(optim, opt_name)(model.parameters(), **opt_kwargs)
    ref_opt = getattr(torch.optim, opt_name)(reference.parameters(), **opt_kwargs)

    @irc.jit(target=target)
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x).reshape(N * L, 3), y)
        loss.backward()
        opt.step()
        return loss

    for i in range(2):
        x, y = randn(N, L, E, seed=20 + i), np.random.default_rng(i).integers(0, 3, N * L)
        loss = step(irc.tensor(x), irc.tensor(y))
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(
            reference(torch.from_numpy(x)).reshape(N * L, 3), torch.from_numpy(y)
        )
        ref_loss.backward()
        ref_opt.step()
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-5)
        for (name, p), q in zip(model.named_parameters(), reference.parameters()):
            if name.endswith("in_proj_bias"):
                # the key bias has a zero gradient (softmax ignores a shift shared by all keys): both
                # frameworks compute rounding noise there, which Adam scales up to +-lr per step
                assert np.abs(p.numpy()[E : 2 * E]).max() <= 2.01 * opt_kwargs["lr"]
                p, q = p[query_and_value(E)], q.detach()[query_and_value(E)]
            close(p, q, 1e-5, name)
    assert step.cache_size == 1


def query_and_value(e: int):
    """The query and value parts of an in_proj_bias (every index but the key part [e, 2e))."""
    return np.r_[0:e, 2 * e : 3 * e]


def test_a_replaced_submodule_keeps_its_place_in_the_state_dict():
    """pytorch/examples' TransformerModel subclasses nn.Transformer and replaces `self.decoder` by a Linear;
    torch keeps the key where it was (so do the parameters' order and an optimizer's state)."""

    def make(m, zeros, ones):
        class Model(m.Transformer):
            def __init__(self):
                super().__init__(E, H, 1, 1, FF)
                self.decoder = m.Linear(E, 3)
                self.extra = m.Linear(3, 3)
                self.decoder = m.Linear(E, 3)
                self.register_buffer("pe", zeros(2))
                self.register_buffer("pe", ones(2))

        return Model()

    keys = list(make(nn, irc.zeros, irc.ones).state_dict())
    assert keys == list(make(torch.nn, torch.zeros, torch.ones).state_dict())
    assert [k for k in keys if not k.startswith("encoder.")] == [
        "pe",
        "decoder.weight",
        "decoder.bias",
        "extra.weight",
        "extra.bias",
    ]  # fmt: skip  (a module's own buffers come before its children's entries, as in torch)
