"""Adagrad, RMSprop and Adadelta (and every optimizer's parameter groups) step like PyTorch's, eagerly and
under irc.jit with hyper-parameters read at every call; torch-only keywords and bad values."""

import warnings

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from tests.helpers import labelled_batches, paired_models, training_step

torch = pytest.importorskip("torch")

NEW = [
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-6)),
    ("Adagrad", dict(lr=0.05, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]


def steps_of_both(name, kwargs, groups, steps=6, seed=0):
    """`steps` steps with the same gradients; `groups` maps each parameter shape to its group's options."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(shape).astype(np.float32) for shape, _ in groups]
    ours = [nn.Parameter(v) for v in values]
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    a = getattr(optim, name)([{"params": [p], **g} for p, (_, g) in zip(ours, groups)], **kwargs)
    b = getattr(torch.optim, name)([{"params": [q], **g} for q, (_, g) in zip(theirs, groups)], **kwargs)
    for _ in range(steps):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = irc.tensor(g), torch.from_numpy(g.copy())
        a.step(), b.step()
    return ours, theirs, a, b


@pytest.mark.parametrize("name, kwargs", NEW, ids=[f"{n}-{i}" for i, (n, _) in enumerate(NEW)])
def test_new_optimizers_match_torch(name, kwargs):
    ours, theirs, a, b = steps_of_both(name, kwargs, [((3, 4), {}), ((4,), {})])
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-5)
        assert sorted(a.state[p]) == sorted(b.state[q])
        for key, value in b.state[q].items():
            np.testing.assert_allclose(a.state[p][key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    assert {k: v for k, v in a.defaults.items()} == {k: b.defaults[k] for k in a.defaults}


GROUPED = [
    ("SGD", dict(lr=0.1), [dict(momentum=0.9), dict(lr=0.01, weight_decay=0.1)]),
    ("Adam", dict(lr=0.01), [dict(betas=(0.8, 0.9)), dict(lr=0.05, amsgrad=True)]),
    ("AdamW", dict(), [dict(weight_decay=0.5), dict(eps=1e-3)]),
    ("Adagrad", dict(lr=0.1), [dict(lr_decay=0.1), dict(initial_accumulator_value=1.0, weight_decay=0.2)]),
    ("RMSprop", dict(lr=0.01), [dict(centered=True, alpha=0.5), dict(momentum=0.9)]),
    ("Adadelta", dict(), [dict(rho=0.5), dict(lr=0.1, weight_decay=0.3)]),
]


@pytest.mark.parametrize("name, kwargs, options", GROUPED, ids=[g[0] for g in GROUPED])
def test_parameter_groups_with_their_own_options_match_torch(name, kwargs, options):
    ours, theirs, a, b = steps_of_both(name, kwargs, [((3, 2), options[0]), ((5,), options[1])], steps=4)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-5)
    for ga, gb in zip(a.param_groups, b.param_groups):
        assert {k: v for k, v in ga.items() if k != "params"} == {k: gb[k] for k in ga if k != "params"}


@pytest.mark.parametrize(
    "name, kwargs, later",
    [
        ("Adagrad", dict(lr=0.1, weight_decay=0.1), dict(lr=0.05, lr_decay=0.2, eps=1e-3, weight_decay=0.3)),
        ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True), dict(lr=0.02, alpha=0.5, eps=1e-3, momentum=0.3)),
        ("Adadelta", dict(weight_decay=0.1), dict(lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.2)),
    ],
)
def test_jitted_steps_read_the_new_hyper_parameters_at_every_call(name, kwargs, later, reference_jit):
    model, reference = paired_models(lambda m: m.Sequential(m.Linear(4, 8), m.Tanh(), m.Linear(8, 3)))
    opt, ref_opt = (
        getattr(optim, name)(model.parameters(), **kwargs),
        getattr(torch.optim, name)(reference.parameters(), **kwargs),
    )

    train_step = irc.jit(training_step(model, opt))
    for i, (x, y) in enumerate(labelled_batches(4, (8, 4))):
        if i == 2:
            opt.param_groups[0].update(later), ref_opt.param_groups[0].update(later)
        train_step(irc.tensor(x), irc.tensor(y))
        ref_opt.zero_grad()
        torch.nn.CrossEntropyLoss()(reference(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        ref_opt.step()
        for p, q in zip(model.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert train_step.cache_size == 1


def test_torch_only_keywords_are_accepted_with_a_warning():
    p = nn.Parameter(np.ones(2, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optim.Adam([p], foreach=False, fused=None, capturable=False, differentiable=False)  # defaults: silent
    for name, flags in [("SGD", dict(foreach=True)), ("Adam", dict(fused=True, capturable=True)),
                        ("AdamW", dict(differentiable=True)), ("RMSprop", dict(capturable=True)),
                        ("Adagrad", dict(fused=True)), ("Adadelta", dict(foreach=True))]:  # fmt: skip
        with pytest.warns(UserWarning, match=f"{name}: .*ignored"):
            getattr(optim, name)([p], **flags)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nesterov'"):
        optim.Adam([p], nesterov=True)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("RMSprop", dict(lr=-1), "Invalid learning rate: -1"),
        ("RMSprop", dict(alpha=-1), "Invalid alpha value: -1"),
        ("RMSprop", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
        ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
        ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
        ("Adadelta", dict(rho=2), "Invalid rho value: 2"),
        ("Adadelta", dict(eps=-1), "Invalid epsilon value: -1"),
        ("SGD", dict(lr=0.1, momentum=-1), "Invalid momentum value: -1"),
        ("Adam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        ("AdamW", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ],
)
def test_bad_hyper_parameters_raise_torchs_messages(name, kwargs, message):
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([nn.Parameter(np.ones(2, np.float32))], **kwargs)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **kwargs)
    assert str(ours.value) == str(theirs.value) == message


def test_named_parameters_are_accepted_like_torch():
    model, reference = paired_models(lambda m: m.Sequential(m.Linear(4, 3), m.Tanh(), m.Linear(3, 2)))
    opt, ref_opt = optim.RMSprop(model.named_parameters()), torch.optim.RMSprop(reference.named_parameters())
    assert (
        opt.param_groups[0]["param_names"]
        == ref_opt.param_groups[0]["param_names"]
        == ["0.weight", "0.bias", "2.weight", "2.bias"]
    )
    assert all(isinstance(p, nn.Parameter) for p in opt.param_groups[0]["params"])


@pytest.mark.parametrize("kind", ["numpy", "torch", "irc"])
@pytest.mark.parametrize("name, kwargs", [("Adam", dict(lr=0.01, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9))])
def test_load_state_dict_takes_numpy_torch_or_irc_values(name, kwargs, kind):
    """An optimizer state saved by torch (here after 6 steps) loads into irc's from numpy arrays (as
    Module.load_state_dict takes them), torch tensors or irc tensors, and later steps match torch's."""
    shapes = [((3, 4), {}), ((4,), {})]
    _, theirs, _, b = steps_of_both(name, kwargs, shapes)
    convert = {
        "numpy": lambda v: v.numpy(),
        "torch": lambda v: v,
        "irc": lambda v: irc.tensor(v.numpy()),
    }[kind]
    saved = b.state_dict()
    saved = {**saved, "state": {i: {k: convert(v) for k, v in s.items()} for i, s in saved["state"].items()}}
    ours = [nn.Parameter(q.detach().numpy().copy()) for q in theirs]
    a = getattr(optim, name)([{"params": [p]} for p in ours], **kwargs)
    a.load_state_dict(saved)
    rng = np.random.default_rng(5)
    for _ in range(2):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = irc.tensor(g), torch.from_numpy(g.copy())
        a.step(), b.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    wrong = {**saved, "state": {0: {k: np.zeros(7, np.float32) for k in saved["state"][0]}, 1: saved["state"][1]}}
    with pytest.raises(ValueError, match="loaded state dict has '.*' of shape \\[7\\] for parameter 0"):
        a.load_state_dict(wrong)
