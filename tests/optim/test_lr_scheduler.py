"""irc.optim.lr_scheduler gives PyTorch's learning rates step by step, and drives jitted training steps
without retracing (the optimizers read lr / momentum / betas from param_groups at every call)."""

import math
import re

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.errors import FrontendError
from irc.optim import lr_scheduler
from tests.helpers import labelled_batches, paired_models

torch = pytest.importorskip("torch")

SCHEDULES = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 1 / (epoch + 1))),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=31)),
    ("OneCycleLR", dict(max_lr=0.3, epochs=3, steps_per_epoch=11, anneal_strategy="linear", three_phase=True)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.05, end_factor=0.5, total_iters=12)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=20)),
]


def optimizers(name="SGD", **kwargs):
    """An irc and a torch optimizer over two parameter groups with different learning rates."""
    ours = [nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(3, np.float32))]
    theirs = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}]  # noqa: E731
    return getattr(optim, name)(groups(ours), lr=0.1, **kwargs), getattr(torch.optim, name)(
        groups(theirs), lr=0.1, **kwargs
    )


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_learning_rates_equal_torchs_for_30_steps(name, kwargs, opt_name):
    opt, ref_opt = optimizers(opt_name, **({"momentum": 0.9} if opt_name == "SGD" else {}))
    ours, theirs = (
        getattr(lr_scheduler, name)(opt, **kwargs),
        getattr(torch.optim.lr_scheduler, name)(ref_opt, **kwargs),
    )
    for _ in range(30):
        assert ours.get_last_lr() == theirs.get_last_lr()
        for group, ref_group in zip(opt.param_groups, ref_opt.param_groups):
            assert group["lr"] == ref_group["lr"]
            assert group.get("momentum") == ref_group.get("momentum") and group.get("betas") == ref_group.get("betas")
        opt.step(), ref_opt.step()  # (no gradients: nothing changes; torch warns without it)
        ours.step(), theirs.step()


def test_state_dict_resumes_the_schedule():
    opt, ref_opt = optimizers()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=7)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=7)
    for _ in range(5):
        ref_opt.step()
        sched.step(), reference.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 5 and state["base_lrs"] == [0.1, 0.05]
    assert set(state) <= set(reference.state_dict())
    opt2, _ = optimizers()
    resumed = lr_scheduler.CosineAnnealingLR(opt2, T_max=7)
    resumed.load_state_dict(state)
    opt2.param_groups[0]["lr"], opt2.param_groups[1]["lr"] = sched.get_last_lr()
    for _ in range(10):
        resumed.step(), reference.step()
        assert resumed.get_last_lr() == reference.get_last_lr()


SEQUENCES = [
    ([("LinearLR", dict(start_factor=0.1, total_iters=4)), ("CosineAnnealingLR", dict(T_max=10))], [4]),
    ([("ExponentialLR", dict(gamma=0.8)), ("StepLR", dict(step_size=3, gamma=0.5)), ("LinearLR", {})], [5, 12]),
    ([("LambdaLR", dict(lr_lambda=lambda e: 1 / (e + 1))), ("MultiStepLR", dict(milestones=[2, 4]))], [1]),
]


@pytest.mark.parametrize("schedules, milestones", SEQUENCES, ids=["warmup-cosine", "three", "lambda-multistep"])
def test_sequential_lr_equals_torchs_for_30_steps_and_resumes(schedules, milestones):
    opt, ref_opt = optimizers("SGD", momentum=0.9)
    ours = lr_scheduler.SequentialLR(
        opt, [getattr(lr_scheduler, name)(opt, **kwargs) for name, kwargs in schedules], milestones
    )
    theirs = torch.optim.lr_scheduler.SequentialLR(
        ref_opt, [getattr(torch.optim.lr_scheduler, name)(ref_opt, **kwargs) for name, kwargs in schedules], milestones
    )
    for i in range(30):
        assert ours.get_last_lr() == theirs.get_last_lr(), i
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref_opt.param_groups], i
        opt.step(), ref_opt.step()
        ours.step(), theirs.step()
        if i == 9:
            state = ours.state_dict()
            assert sorted(state) == sorted(theirs.state_dict()) and len(state["_schedulers"]) == len(schedules)
    opt2, _ = optimizers("SGD", momentum=0.9)
    resumed = lr_scheduler.SequentialLR(
        opt2, [getattr(lr_scheduler, name)(opt2, **kwargs) for name, kwargs in schedules], milestones
    )
    resumed.load_state_dict(state)
    assert resumed.last_epoch == 10 and [s.last_epoch for s in resumed._schedulers] == [
        s["last_epoch"] for s in state["_schedulers"]
    ]


PLATEAUS = [
    dict(),
    dict(mode="max", factor=0.5, patience=1, threshold=0.1, threshold_mode="abs", cooldown=2, min_lr=[0.02, 0.01]),
    dict(factor=0.3, patience=0, cooldown=1, min_lr=0.004, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=["defaults", "max-abs-cooldown", "patience0"])
def test_reduce_lr_on_plateau_equals_torchs_step_by_step(kwargs):
    opt, ref_opt = optimizers()
    ours = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **kwargs)
    metrics = np.random.default_rng(0).standard_normal(40).cumsum()  # a random walk: plateaus, rises and falls
    metrics[10:25] = metrics[10]  # a long plateau
    for i, metric in enumerate(metrics):
        # a Python float, a rank-0 irc tensor (realized by the step) or a numpy number, as torch's float(metrics)
        ours.step([float(metric), irc.tensor(np.float32(metric)), np.float32(metric)][i % 3])
        theirs.step(float(np.float32(metric)) if i % 3 else float(metric))
        assert ours.get_last_lr() == theirs.get_last_lr(), i
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref_opt.param_groups], i
        assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter, ours.last_epoch) == (
            theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter, theirs.last_epoch
        )  # fmt: skip
    state = ours.state_dict()
    assert set(state) == set(theirs.state_dict())
    resumed = lr_scheduler.ReduceLROnPlateau(optimizers()[0], **kwargs)
    resumed.load_state_dict(state)
    assert resumed.best == theirs.best and resumed._is_better(theirs.best - 10, theirs.best) == (
        theirs._is_better(theirs.best - 10, theirs.best)
    )


def test_new_schedulers_errors_are_torchs():
    opt, ref_opt = optimizers()
    for make in (
        lambda lr, o: lr.LinearLR(o, start_factor=0),
        lambda lr, o: lr.LinearLR(o, end_factor=1.5),
        lambda lr, o: lr.ReduceLROnPlateau(o, factor=1.0),
        lambda lr, o: lr.ReduceLROnPlateau(o, mode="avg"),
        lambda lr, o: lr.ReduceLROnPlateau(o, threshold_mode="x"),
        lambda lr, o: lr.ReduceLROnPlateau(o, min_lr=[0.1]),
        lambda lr, o: lr.SequentialLR(o, [], []),
        lambda lr, o: lr.SequentialLR(o, [lr.StepLR(o, 2)], [3]),
        lambda lr, o: lr.SequentialLR(o, [lr.StepLR(o, 2), lr.ReduceLROnPlateau(o)], [3]),
    ):
        with pytest.raises(Exception) as theirs:
            make(torch.optim.lr_scheduler, ref_opt)
        with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
            make(lr_scheduler, opt)
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(optimizers()[0], 2)], [])


def test_lambda_lr_saves_callable_objects_not_functions():
    class Warmup:
        def __init__(self):
            self.steps = 3

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    opt, _ = optimizers()
    sched = lr_scheduler.LambdaLR(opt, [Warmup(), lambda e: 0.5**e])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"steps": 3}, None]
    state["lr_lambdas"][0]["steps"] = 10
    sched.load_state_dict(state)
    assert sched.lr_lambdas[0].steps == 10


def test_errors_are_torchs():
    opt, _ = optimizers()
    with pytest.raises(TypeError, match="NoneType is not an Optimizer"):
        lr_scheduler.StepLR(None, 2)
    with pytest.raises(ValueError, match=r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"):
        lr_scheduler.OneCycleLR(opt, 0.1)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    sched = lr_scheduler.OneCycleLR(opt, 0.1, total_steps=2)
    sched.step(), sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
        sched.step()
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adagrad([nn.Parameter(np.ones(2, np.float32))]), 0.1, total_steps=5)


# ------------------------------------------------------------ under irc.jit


def train_both(opt_name, opt_kwargs, sched_name, sched_kwargs, steps, clip=None):
    """A jitted irc training step (forward, backward, optional clip_grad_norm_, opt.step) and torch's, with a
    scheduler stepped after each; parameters compared after every step."""
    model, reference = paired_models(lambda m: m.Sequential(m.Linear(4, 8), m.GELU(), m.LayerNorm(8), m.Linear(8, 3)))
    opt = getattr(optim, opt_name)(model.parameters(), **opt_kwargs)
    ref_opt = getattr(torch.optim, opt_name)(reference.parameters(), **opt_kwargs)
    sched = getattr(lr_scheduler, sched_name)(opt, **sched_kwargs)
    ref_sched = getattr(torch.optim.lr_scheduler, sched_name)(ref_opt, **sched_kwargs)

    def step(model, opt, utils, loss_fn, x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        norm = utils.clip_grad_norm_(model.parameters(), clip) if clip else loss
        opt.step()
        return loss, norm

    jitted = irc.jit(lambda x, y: step(model, opt, nn.utils, nn.CrossEntropyLoss(label_smoothing=0.1), x, y))
    ref_loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    for x, y in labelled_batches(steps, (8, 4)):
        loss, norm = jitted(irc.tensor(x), irc.tensor(y))
        ref_loss, ref_norm = step(
            reference, ref_opt, torch.nn.utils, ref_loss_fn, torch.from_numpy(x), torch.from_numpy(y)
        )
        sched.step(), ref_sched.step()
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-5)
        np.testing.assert_allclose(norm.item(), ref_norm.item(), rtol=1e-5)
        for p, q in zip(model.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert jitted.cache_size == 1
    return opt, jitted


@pytest.mark.parametrize(
    "opt_name, opt_kwargs, sched_name, sched_kwargs",
    [
        ("SGD", dict(lr=0.1, momentum=0.9), "OneCycleLR", dict(max_lr=0.5, total_steps=6)),
        ("Adam", dict(lr=0.01), "OneCycleLR", dict(max_lr=0.05, total_steps=6, three_phase=True)),
        ("RMSprop", dict(lr=0.01), "CosineAnnealingLR", dict(T_max=3)),
        ("Adagrad", dict(lr=0.1), "MultiStepLR", dict(milestones=[1, 3])),
        ("Adadelta", dict(), "ExponentialLR", dict(gamma=0.5)),
        ("SGD", dict(lr=0.1), "LinearLR", dict(start_factor=0.2, total_iters=3)),
    ],
)
def test_jitted_training_step_follows_the_schedule(opt_name, opt_kwargs, sched_name, sched_kwargs, reference_jit):
    train_both(opt_name, opt_kwargs, sched_name, sched_kwargs, steps=5, clip=0.5)


def test_jitted_training_step_with_a_schedule_through_llvm():
    """The real pipeline: LayerNorm + GELU MLP, label smoothing, clip_grad_norm_, SGD with OneCycleLR's momentum."""
    opt, _ = train_both("SGD", dict(lr=0.1, momentum=0.9), "OneCycleLR", dict(max_lr=0.5, total_steps=8), 6, clip=1.0)
    assert opt.param_groups[0]["momentum"] != 0.9 and not math.isclose(opt.param_groups[0]["lr"], 0.1)


@pytest.mark.parametrize("name", ["StepLR", "SequentialLR", "ReduceLROnPlateau"])
def test_scheduler_step_inside_jit_is_refused(name, reference_jit):
    opt, _ = optimizers()
    if name == "StepLR":
        sched, step = lr_scheduler.StepLR(opt, 2), lambda x: sched.step()
    elif name == "SequentialLR":
        sched = lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.LinearLR(opt)], [2])
        step = lambda x: sched.step()  # noqa: E731
    else:
        sched, step = lr_scheduler.ReduceLROnPlateau(opt), lambda x: sched.step(x.sum())
    with pytest.raises(FrontendError, match=rf"{name}.step\(\) inside irc.jit would run once"):
        irc.jit(lambda x: step(x) or x + 1)(irc.ones(2))
