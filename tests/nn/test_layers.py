"""Activations, LayerNorm and the containers against PyTorch: forward, gradients, reprs, errors."""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.nn.functional as F
from irc.errors import FrontendError

torch = pytest.importorskip("torch")


def check_function(ours, theirs, *arrays, rtol=1e-5, atol=1e-6):
    """ours(*irc tensors) equals theirs(*torch tensors), and so do the gradients of a weighted sum of it."""
    xs = [irc.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
    seed = np.random.default_rng(1).standard_normal(expected.shape).astype(np.float32)
    (out * irc.tensor(seed)).sum().backward()
    (expected * torch.from_numpy(seed)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")


ACTIVATIONS = [
    ("GELU", lambda m: m.GELU()),
    ("GELU-tanh", lambda m: m.GELU(approximate="tanh")),
    ("SiLU", lambda m: m.SiLU()),
    ("LeakyReLU", lambda m: m.LeakyReLU()),
    ("LeakyReLU-0.2", lambda m: m.LeakyReLU(0.2)),
    ("ELU", lambda m: m.ELU()),
    ("ELU-0.5", lambda m: m.ELU(alpha=0.5)),
    ("Tanh", lambda m: m.Tanh()),
    ("Sigmoid", lambda m: m.Sigmoid()),
    ("Identity", lambda m: m.Identity()),
]


@pytest.mark.parametrize("name, make", ACTIVATIONS, ids=[n for n, _ in ACTIVATIONS])
def test_activation_modules_match_torch(name, make, rng):
    x = (rng.standard_normal((3, 7)) * 3).astype(np.float32)
    x[0, :3] = [-100.0, 100.0, 0.5]  # far tails: no overflow in the branch not taken
    check_function(make(nn), make(torch.nn), x)
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize(
    "name, kwargs",
    [("gelu", {}), ("gelu", dict(approximate="tanh")), ("silu", {}), ("leaky_relu", dict(negative_slope=0.3)),
     ("elu", dict(alpha=2.0))],
)  # fmt: skip
def test_functional_activations_match_torch(name, kwargs, rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    check_function(
        lambda t: getattr(F, name)(t, **kwargs), lambda t: getattr(torch.nn.functional, name)(t, **kwargs), x
    )


def test_inplace_flags_are_accepted_and_printed_like_torch():
    for make in (lambda m: m.SiLU(inplace=True), lambda m: m.LeakyReLU(0.1, True), lambda m: m.ReLU(inplace=True)):
        assert repr(make(nn)) == repr(make(torch.nn))


def test_gelu_rejects_an_unknown_approximation():
    with pytest.raises(FrontendError, match="approximate argument must be either none or tanh."):
        F.gelu(irc.ones(2), approximate="fast")


@pytest.mark.parametrize(
    "shape, normalized, kwargs",
    [
        ((4, 6), 6, {}),
        ((2, 3, 5), (3, 5), dict(eps=1e-3)),
        ((2, 3, 4), [4], dict(elementwise_affine=False)),
        ((3, 4), 4, dict(bias=False)),
    ],
)
def test_layer_norm_matches_torch(shape, normalized, kwargs, rng):
    module, reference = nn.LayerNorm(normalized, **kwargs), torch.nn.LayerNorm(normalized, **kwargs)
    with torch.no_grad():
        for p in reference.parameters():
            p.uniform_(-1.5, 1.5)
    module.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    assert repr(module) == repr(reference)
    assert list(module.state_dict()) == list(reference.state_dict())
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    check_function(module, reference, x, rtol=1e-4, atol=1e-5)
    if not kwargs.get("elementwise_affine", True):
        return
    loss, ref_loss = module(irc.tensor(x)).pow(3).sum(), reference(torch.from_numpy(x)).pow(3).sum()
    loss.backward(), ref_loss.backward()
    for (name, p), q in zip(module.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


def test_functional_layer_norm_and_its_error(rng):
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 4), (3, 4), (3, 4)))
    check_function(
        lambda *t: F.layer_norm(t[0], (3, 4), t[1], t[2]),
        lambda *t: torch.nn.functional.layer_norm(t[0], (3, 4), t[1], t[2]),
        x, w, b, rtol=1e-4, atol=1e-5,
    )  # fmt: skip
    message = "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]"
    with pytest.raises(FrontendError, match=message.replace("[", r"\[").replace("*", r"\*")):
        nn.LayerNorm(4)(irc.ones(2, 3))


# ------------------------------------------------------------- containers


def names(module):
    return [n for n, _ in module.named_parameters()]


def test_module_list_parity_with_torch():
    ours, theirs = (
        nn.ModuleList([nn.Linear(2, 2), nn.ReLU()]),
        torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.ReLU()]),
    )
    for m, lib in ((ours, nn), (theirs, torch.nn)):
        m.append(lib.Linear(2, 3))
        m.extend([lib.Tanh(), lib.Linear(3, 1)])
        m.insert(1, lib.Linear(2, 2, bias=False))
        m += [lib.ReLU()]
        del m[2]
        m[0] = lib.Linear(2, 2, bias=False)
    assert len(ours) == len(theirs) == 6
    assert names(ours) == [n for n, _ in theirs.named_parameters()]
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert type(ours[1:3]) is nn.ModuleList and [type(m).__name__ for m in ours[-2:]] == ["Linear", "ReLU"]
    assert isinstance(ours[-1], nn.ReLU) and repr(ours) == repr(theirs)
    assert type(ours.pop(0)) is nn.Linear and type(theirs.pop(0)) is torch.nn.Linear
    assert names(ours) == [n for n, _ in theirs.named_parameters()] and repr(ours) == repr(theirs)
    with pytest.raises(IndexError, match="index 7 is out of range"):
        ours[7]
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        ours.append(3)
    repeated = lambda m: m.ModuleList([m.Linear(2, 2) for _ in range(3)] + [m.ReLU()])  # noqa: E731
    assert repr(repeated(nn)) == repr(repeated(torch.nn))


def test_sequential_keeps_names_on_set_and_slice_and_renumbers_on_delete():
    from collections import OrderedDict

    seq = nn.Sequential(OrderedDict(first=nn.Linear(2, 3), act=nn.ReLU(), last=nn.Linear(3, 1)))
    seq[1] = nn.Tanh()
    assert list(seq._modules) == ["first", "act", "last"] and isinstance(seq.act, nn.Tanh)
    assert list(seq[1:]._modules) == ["act", "last"]
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and seq(irc.ones(4, 2)).shape == (4, 1)


def test_module_dict_parity_with_torch():
    make = lambda m: m.ModuleDict({"enc": m.Linear(2, 4), "act": m.ReLU()})  # noqa: E731
    ours, theirs = make(nn), make(torch.nn)
    ours["dec"], theirs["dec"] = nn.Linear(4, 2), torch.nn.Linear(4, 2)
    ours.update([("out", nn.Sigmoid())]), theirs.update([("out", torch.nn.Sigmoid())])
    assert list(ours) == list(theirs) == list(ours.keys()) == ["enc", "act", "dec", "out"]
    assert names(ours) == [n for n, _ in theirs.named_parameters()]
    assert "act" in ours and len(ours) == 4 and isinstance(ours.pop("act"), nn.ReLU) and "act" not in ours
    assert [k for k, _ in ours.items()] == ["enc", "dec", "out"] and repr(make(nn)) == repr(make(torch.nn))
    x = irc.ones(3, 2)
    assert ours["dec"](ours["enc"](x)).shape == (3, 2)
    ours.clear()
    assert len(ours) == 0 and list(ours.parameters()) == []


def test_parameter_list_and_dict_register_parameters():
    plist = nn.ParameterList([nn.Parameter(np.ones(2, np.float32)), irc.zeros(3)])
    plist.append(irc.ones(2, 2))
    assert len(plist) == 3 and all(isinstance(p, nn.Parameter) and p.requires_grad for p in plist)
    assert names(plist) == ["0", "1", "2"] and plist[-1].shape == (2, 2)
    pdict = nn.ParameterDict({"w": irc.ones(2, 3)})
    pdict["b"] = nn.Parameter(np.zeros(3, np.float32))
    assert list(pdict) == ["w", "b"] and isinstance(pdict["w"], nn.Parameter)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = plist
            self.affine = pdict

        def forward(self, x):
            return (x @ self.affine["w"] + self.affine["b"]) * self.scales[1]

    net = Net()
    assert list(net.state_dict()) == ["scales.0", "scales.1", "scales.2", "affine.w", "affine.b"]
    net(irc.ones(4, 2)).sum().backward()
    np.testing.assert_array_equal(net.affine["w"].grad.numpy(), np.zeros((2, 3)))  # scales[1] is zero
    np.testing.assert_array_equal(net.scales[1].grad.numpy(), np.full(3, 8.0))
    with pytest.raises(TypeError, match="cannot register str as a parameter"):
        plist.append("w")


def test_module_machinery_matches_torch():
    """named_modules, children, apply, zero_grad, requires_grad_, train/eval and strict state dicts."""
    make = lambda m: m.Sequential(m.Linear(3, 4), m.LayerNorm(4), m.GELU(), m.ModuleList([m.Linear(4, 2)]))  # noqa: E731
    ours, theirs = make(nn), make(torch.nn)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]
    visited = []
    ours.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "LayerNorm", "GELU", "Linear", "ModuleList", "Sequential"]
    assert not any(m.training for m in ours.eval().modules())
    assert not any(p.requires_grad for p in ours.requires_grad_(False).parameters())
    ours.requires_grad_()
    ours[0](irc.ones(2, 3)).sum().backward()
    ours.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(ours[0].weight.grad.numpy(), np.zeros((4, 3)))
    ours.zero_grad()
    assert ours[0].weight.grad is None
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "3.0.bias"'):
        ours.load_state_dict({k: v for k, v in theirs.state_dict().items() if k != "3.0.bias"})


def shared_linear(m):
    lin = m.Linear(2, 3)
    return m.Sequential(lin, m.Tanh(), lin, m.ModuleList([lin]))


def test_a_module_registered_twice_is_in_the_state_dict_under_each_name_as_torch():
    ours, theirs = shared_linear(nn), shared_linear(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "0.weight", "0.bias", "2.weight", "2.bias", "3.0.weight", "3.0.bias"
    ]  # fmt: skip
    assert ours.state_dict()._metadata == theirs.state_dict()._metadata
    assert (
        [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == ["0.weight", "0.bias"]
    )
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert repr(ours.load_state_dict(theirs.state_dict())) == "<All keys matched successfully>"
    np.testing.assert_array_equal(ours[2].weight.numpy(), theirs[2].weight.detach().numpy())
    partial = {k: v for k, v in theirs.state_dict().items() if k != "2.bias"}
    assert ours.load_state_dict(partial, strict=False) == theirs.load_state_dict(partial, strict=False)
    assert ours.load_state_dict(partial, strict=False).missing_keys == ["2.bias"]


def batch_norm_net(m, **kwargs):
    return m.Sequential(m.Linear(2, 2), m.BatchNorm1d(2, **kwargs))


@pytest.mark.parametrize("metadata", [False, True], ids=["plain-dict", "state_dict"])
@pytest.mark.parametrize("track", [True, False])
def test_num_batches_tracked_may_be_missing_as_torch(metadata, track):
    """torch adds BatchNorm's `num_batches_tracked` in state-dict version 2: a dict without `_metadata` (of no
    version) may lack it, and it keeps its value; a version-2 state dict (torch's or irc's) reports it."""
    ours, theirs = batch_norm_net(nn, track_running_stats=track), batch_norm_net(torch.nn, track_running_stats=track)
    if track:
        ours[1].num_batches_tracked.fill_(5), theirs[1].num_batches_tracked.fill_(5)
    source = theirs.state_dict()
    source.pop("1.num_batches_tracked", None)
    if not metadata:
        source = dict(source)  # no `_metadata`
    for strict in (False, True):
        try:
            expected = repr(theirs.load_state_dict(source, strict=strict))
        except RuntimeError as error:
            with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "1.num_batches_tracked"'):
                ours.load_state_dict(source, strict=strict)
            assert "num_batches_tracked" in str(error)
            continue
        assert repr(ours.load_state_dict(source, strict=strict)) == expected
    if track:
        assert ours[1].num_batches_tracked.item() == theirs[1].num_batches_tracked.item() == 5
    ours_source = ours.state_dict()
    ours_source.pop("1.num_batches_tracked", None)
    assert ours.load_state_dict(ours_source, strict=False).missing_keys == (["1.num_batches_tracked"] if track else [])
