"""Training programs written for PyTorch do what they do in PyTorch, eager and under irc.jit.

* writes through `.data` reach the tensor (the hand-written SGD update of many tutorials);
* optimizer hyper-parameters are read from `param_groups` at every (jitted) step: LR schedules work;
* random ops inside irc.jit draw new numbers on every call.

Jitted functions run on the hl numpy reference here (`reference_jit`); one test per topic
also goes through the real llvm pipeline.
"""

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim
from irc.errors import FrontendError
from irc.frontend import jit as jit_module
from irc.frontend import realize
from irc.interpreters.reference import run_hl
from tests.helpers import labelled_batches, paired_models

torch = pytest.importorskip("torch")


@pytest.fixture
def reference_jit(monkeypatch):
    monkeypatch.setattr(jit_module, "compile_cached", lambda module, target: lambda *a: run_hl(module, a))


def both_mlps(seed=0):
    """An irc MLP and a torch MLP with the same weights."""
    return paired_models(lambda m: m.Sequential(m.Linear(4, 8), m.Tanh(), m.Linear(8, 3)), seed)


def batches(n, seed=1):
    return labelled_batches(n, seed=seed)


def jitted_step(model, opt, head=None):
    """irc.jit of a whole training step: zero_grad, forward, backward, opt.step(); returns the loss."""

    def train_step(x, y):
        opt.zero_grad()
        out = model(x) if head is None else head(model(x).tanh())
        loss = nn.CrossEntropyLoss()(out, y)
        loss.backward()
        opt.step()
        return loss

    return irc.jit(train_step)


def torch_step(reference, ref_opt, x, y, head=None):
    ref_opt.zero_grad()
    out = reference(torch.from_numpy(x))
    out = out if head is None else head(out.tanh())
    loss = torch.nn.CrossEntropyLoss()(out, torch.from_numpy(y))
    loss.backward()
    ref_opt.step()
    return loss


def assert_same_params(ours, theirs, rtol=1e-5, atol=1e-6):
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=rtol, atol=atol, err_msg=name)


# ------------------------------------------------------------------ .data


# (name, op on a tensor-like `t` with a gradient-like `g`): the same code runs on irc and torch tensors
DATA_WRITES = [
    ("add_", lambda t, g: t.add_(g * -0.1)),
    ("add_ alpha", lambda t, g: t.add_(g, alpha=-0.1)),
    ("sub_", lambda t, g: t.sub_(g * 0.1)),
    ("isub", lambda t, g: t.__isub__(g * 0.1)),
    ("iadd", lambda t, g: t.__iadd__(g * 0.1)),
    ("mul_", lambda t, g: t.mul_(0.5)),
    ("div_", lambda t, g: t.div_(4.0)),
    ("copy_", lambda t, g: t.copy_(g)),
    ("zero_", lambda t, g: t.zero_()),
    ("fill_", lambda t, g: t.fill_(0.25)),
]


def _data_write(op, p, g, under_no_grad):
    if under_no_grad:
        with torch.no_grad() if isinstance(p, torch.Tensor) else irc.no_grad():
            op(p.data, g)
    else:
        op(p.data, g)


@pytest.mark.parametrize("under_no_grad", [False, True])
@pytest.mark.parametrize("name, op", DATA_WRITES, ids=[n for n, _ in DATA_WRITES])
def test_data_writes_reach_the_parameter(name, op, under_no_grad, rng):
    value, grad = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    p, q = nn.Parameter(value.copy()), torch.nn.Parameter(torch.from_numpy(value.copy()))
    p.grad, q.grad = irc.tensor(grad), torch.from_numpy(grad.copy())
    _data_write(op, p, p.grad, under_no_grad)
    _data_write(op, q, q.grad, under_no_grad)
    np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-6)
    assert not np.array_equal(p.numpy(), value)
    assert p.is_leaf and p.requires_grad and p.grad is not None
    np.testing.assert_array_equal(p.grad.numpy(), grad)


def test_data_is_a_view_that_sees_later_updates():
    p, q = nn.Parameter(np.ones(3, np.float32)), torch.nn.Parameter(torch.ones(3))
    d, e = p.data, q.data
    assert not d.requires_grad and d.is_leaf
    with irc.no_grad(), torch.no_grad():
        p.add_(1.0), q.add_(1.0)
    p.data.mul_(3.0), q.data.mul_(3.0)
    np.testing.assert_array_equal(d.numpy(), e.numpy())  # 6, 6, 6 in both
    np.testing.assert_array_equal(p.numpy(), e.numpy())


def test_data_assignment_replaces_the_value_and_leaves_the_source_alone():
    p, t = nn.Parameter(np.zeros(3, np.float32)), nn.Parameter(np.arange(3, dtype=np.float32))
    u = irc.tensor([5.0, 6.0, 7.0])
    p.data = u
    np.testing.assert_array_equal(p.numpy(), [5, 6, 7])
    assert p.is_leaf and p.requires_grad and not u.requires_grad
    with irc.no_grad():
        p.copy_(t)
        t.add_(1.0)
    np.testing.assert_array_equal(p.numpy(), [0, 1, 2])  # copy_ copies
    assert p.requires_grad and t.is_leaf and t.requires_grad
    u.add_(1.0)  # u is not p's storage: p keeps its value
    np.testing.assert_array_equal(p.numpy(), [0, 1, 2])


def test_unsupported_data_writes_are_refused():
    p = nn.Parameter(np.zeros(3, np.float32))
    with pytest.raises(FrontendError, match="shape \\[2\\] .* not supported"):
        p.data = irc.zeros(2)
    with pytest.raises(FrontendError, match="dtype float64 .* not supported"):
        p.data = irc.zeros(3, dtype="float64")
    y = p * 2
    with pytest.raises(FrontendError, match="through .data of a tensor with gradient history"):
        y.data.add_(1.0)


@pytest.mark.parametrize("name, op", DATA_WRITES, ids=[n for n, _ in DATA_WRITES])
def test_jitted_step_with_data_writes_matches_torch(name, op, reference_jit):
    """A whole training step (forward, backward, hand-written update through .data) under irc.jit."""
    model, reference = both_mlps()

    def train_step(x, y):
        model.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        for p in model.parameters():
            op(p.data, p.grad)
        return loss

    step = irc.jit(train_step)
    for x, y in batches(3):
        loss = step(irc.tensor(x), irc.tensor(y))
        reference.zero_grad()
        ref_loss = torch.nn.CrossEntropyLoss()(reference(torch.from_numpy(x)), torch.from_numpy(y))
        ref_loss.backward()
        for q in reference.parameters():
            op(q.data, q.grad)
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-5)
        assert_same_params(model, reference)
    assert step.cache_size == 1
    assert all(p.is_leaf and p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("jit", [False, True])
def test_classic_manual_loop_with_grad_data_zero(jit, reference_jit):
    """The old PyTorch tutorial loop: backward accumulates, `p.grad.data.zero_()` resets, buffers via .data."""
    model, reference = both_mlps()
    model.register_buffer("steps", irc.zeros(()))
    reference.register_buffer("steps", torch.zeros(()))

    def train_step(x, y, nn=nn, model=model):
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.data.sub_(p.grad.data * 0.1)
            p.grad.data.zero_()
        model.steps.data += 1
        return loss

    step = irc.jit(train_step) if jit else train_step
    with torch.no_grad():
        reference(torch.zeros(1, 4)).sum()  # nothing recorded: torch.no_grad
    for x, y in batches(3):
        step(irc.tensor(x), irc.tensor(y))
        train_step(torch.from_numpy(x), torch.from_numpy(y), torch.nn, reference)
        assert_same_params(model, reference)
        for p, q in zip(model.parameters(), reference.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())  # zeros
    assert model.steps.item() == reference.steps.item() == 3


def test_jit_reads_lazy_state_on_every_call(reference_jit):
    """State that is still a lazy graph when traced (irc.zeros, an eager in-place op) is an input, not a constant."""
    acc = irc.zeros(3)
    p = nn.Parameter(np.ones(3, np.float32))
    p.data.mul_(2.0)
    assert acc._node.value is None and p._node.value is None

    @irc.jit
    def f(x):
        acc.add_(x)
        with irc.no_grad():
            p.add_(1.0)
        return acc + p

    for _ in range(3):
        out = f(irc.ones(3))
    np.testing.assert_array_equal(acc.numpy(), [3, 3, 3])
    np.testing.assert_array_equal(p.numpy(), [5, 5, 5])
    np.testing.assert_array_equal(out.numpy(), [8, 8, 8])


def test_random_fill_through_data_inside_jit(reference_jit):
    """`p.data.normal_()` in a jitted function re-initializes p on every call."""
    p = nn.Parameter(np.zeros(1000, np.float32))

    @irc.jit
    def reinit(x):
        p.data.normal_(0.0, 2.0)
        return x + 1

    reinit(irc.zeros(1))
    first = p.numpy().copy()
    reinit(irc.zeros(1))
    assert not np.array_equal(p.numpy(), first)
    assert abs(first.std() - 2.0) < 0.2 and p.is_leaf and p.requires_grad


def test_detach_inside_jit_reads_the_current_value(reference_jit):
    """`p.detach()` in a jitted function is p's value at each call, not p's value when traced."""
    p = nn.Parameter(np.ones(3, np.float32))
    f = irc.jit(lambda x: x + p.detach() + p.data)
    x = irc.zeros(3)
    np.testing.assert_array_equal(f(x).numpy(), [2, 2, 2])
    p.data.add_(1.0)
    np.testing.assert_array_equal(f(x).numpy(), [4, 4, 4])


# ------------------------------------------------- hyper-parameters at run time


def warmup_then_decay(step):
    return min(1.0, (step + 1) / 3) * 0.5 ** (step // 3)


SCHEDULED = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULED)])
def test_jitted_step_follows_a_learning_rate_schedule(name, kwargs, reference_jit):
    """A LambdaLR-style warm-up and decay written by mutating param_groups, against torch's real LambdaLR."""
    model, reference = both_mlps()
    opt, ref_opt = (
        getattr(optim, name)(model.parameters(), **kwargs),
        getattr(torch.optim, name)(reference.parameters(), **kwargs),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(ref_opt, warmup_then_decay)
    base_lr = kwargs["lr"]
    train_step = jitted_step(model, opt)
    for i, (x, y) in enumerate(batches(8)):
        for group in opt.param_groups:
            group["lr"] = base_lr * warmup_then_decay(i)
        assert opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"])
        train_step(irc.tensor(x), irc.tensor(y))
        torch_step(reference, ref_opt, x, y)
        scheduler.step()
        assert_same_params(model, reference)
    assert train_step.cache_size == 1  # new learning rates are inputs: no retrace, no recompile
    if name != "SGD":  # bias corrections use the step count of each call
        assert all(s["step"].item() == 8 for s in opt.state.values())


@pytest.mark.parametrize("name, kwargs", SCHEDULED[1:4:2], ids=["SGD-momentum", "Adam"])
def test_lr_zero_leaves_parameters_unchanged_under_jit(name, kwargs, reference_jit):
    model, _ = both_mlps()
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    train_step = jitted_step(model, opt)
    data = batches(3)
    train_step(*map(irc.tensor, data[0]))
    before = [p.numpy().copy() for p in model.parameters()]
    if name == "Adam":  # a new list of new dicts, as some code builds them
        opt.param_groups = [{**opt.param_groups[0], "lr": 0.0}]
    else:
        opt.param_groups[0]["lr"] = 0.0
    for x, y in data[1:]:
        train_step(irc.tensor(x), irc.tensor(y))
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)
    assert train_step.cache_size == 1


def test_every_hyper_parameter_is_read_at_each_call(reference_jit):
    """momentum, dampening, weight decay, betas and eps changed between jitted steps, as torch reads them."""
    changes = [
        ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1), dict(momentum=0.5, dampening=0.5, weight_decay=0.3)),
        ("Adam", dict(lr=0.01, weight_decay=0.1), dict(betas=(0.5, 0.9), eps=1e-2, weight_decay=0.5)),
        ("AdamW", dict(lr=0.01), dict(betas=(0.8, 0.99), eps=1e-3, weight_decay=0.3)),
    ]  # fmt: skip
    for name, kwargs, later in changes:
        model, reference = both_mlps()
        opt = getattr(optim, name)(model.parameters(), **kwargs)
        ref_opt = getattr(torch.optim, name)(reference.parameters(), **kwargs)
        train_step = jitted_step(model, opt)
        for i, (x, y) in enumerate(batches(4)):
            if i == 2:
                opt.param_groups[0].update(later), ref_opt.param_groups[0].update(later)
            train_step(irc.tensor(x), irc.tensor(y))
            torch_step(reference, ref_opt, x, y)
            assert_same_params(model, reference, rtol=1e-5, atol=1e-5)
        assert train_step.cache_size == 1, name


def test_graph_changing_hyper_parameters_retrace(reference_jit):
    """momentum 0 -> 0.9, weight decay 0 -> 0.1 and a new parameter group change the update's graph:
    the jitted step is traced again (torch creates the momentum buffer at the first step with momentum)."""
    model, reference = both_mlps()
    head, ref_head = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    head.load_state_dict({k: v.detach().numpy() for k, v in ref_head.state_dict().items()})
    opt, ref_opt = optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(reference.parameters(), lr=0.1)
    train_step = jitted_step(model, opt, head)
    for i, (x, y) in enumerate(batches(6)):
        y = y.clip(max=1)
        if i == 2:
            opt.param_groups[0]["momentum"] = ref_opt.param_groups[0]["momentum"] = 0.9
        if i == 3:
            opt.param_groups[0]["weight_decay"] = ref_opt.param_groups[0]["weight_decay"] = 0.1
        if i == 4:
            opt.add_param_group({"params": head.parameters(), "lr": 0.05})
            ref_opt.add_param_group({"params": ref_head.parameters(), "lr": 0.05})
        train_step(irc.tensor(x), irc.tensor(y))
        torch_step(reference, ref_opt, x, y, ref_head)
        assert_same_params(model, reference)
        assert_same_params(head, ref_head)
    # 4 graphs of the update, and one more at step 1: until step 4 the head is in no optimizer, so nothing
    # clears its .grad and backward() adds to it from step 1 on, as in torch (a guard on .grad being None)
    assert train_step.cache_size == 5


def test_eager_steps_with_a_schedule_reuse_one_program():
    model, reference = both_mlps()
    opt, ref_opt = optim.Adam(model.parameters(), lr=0.01), torch.optim.Adam(reference.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=2, gamma=0.5)
    sizes = []
    for i, (x, y) in enumerate(batches(6)):
        opt.param_groups[0]["lr"] = 0.01 * 0.5 ** (i // 2)
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(irc.tensor(x)), irc.tensor(y)).backward()
        opt.step()
        torch_step(reference, ref_opt, x, y)
        scheduler.step()
        sizes.append(realize.cache_size())
        assert_same_params(model, reference)
    assert sizes[-1] == sizes[1]  # the learning rate is an input of the step program, not a constant


def test_scheduled_training_through_llvm():
    """The real pipeline: SGD with momentum, a step schedule and lr=0 at the end, under irc.jit."""
    model, reference = both_mlps()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=2, gamma=0.1)
    train_step = jitted_step(model, opt)
    for i, (x, y) in enumerate(batches(5)):
        opt.param_groups[0]["lr"] = 0.1 * 0.1 ** (i // 2)
        train_step(irc.tensor(x), irc.tensor(y))
        torch_step(reference, ref_opt, x, y)
        scheduler.step()
        assert_same_params(model, reference, rtol=1e-4, atol=1e-5)
    before = [p.numpy().copy() for p in model.parameters()]
    opt.param_groups[0]["lr"] = 0.0
    train_step(*map(irc.tensor, batches(1, seed=9)[0]))
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)
    assert train_step.cache_size == 1


# ------------------------------------------------------------------ random ops


RANDOM_OPS = [
    ("rand", lambda x: irc.rand(x.shape), 0.5, 12**-0.5),
    ("randn", lambda x: irc.randn(*x.shape), 0.0, 1.0),
    ("rand_like", lambda x: irc.rand_like(x) * 2.0 + 1.0, 2.0, 2 * 12**-0.5),
    ("randn_like", lambda x: irc.randn_like(x) * 3.0, 0.0, 3.0),
    ("normal_", lambda x: irc.zeros(x.shape).normal_(1.0, 2.0), 1.0, 2.0),
    ("init.uniform_", lambda x: nn.init.uniform_(irc.zeros(x.shape), -1.0, 3.0), 1.0, 4 * 12**-0.5),
]


def _check_random_jit(make, mean, std):
    f = irc.jit(lambda x: x + make(x))
    x = irc.zeros(20000)
    irc.manual_seed(5)
    first, second = f(x).numpy(), f(x).numpy()
    assert not np.array_equal(first, second)
    irc.manual_seed(5)
    np.testing.assert_array_equal(f(x).numpy(), first)
    np.testing.assert_array_equal(f(x).numpy(), second)
    for sample in (first, second):
        assert abs(sample.mean() - mean) < 0.05 * std and abs(sample.std() - std) < 0.03 * std
    assert f.cache_size == 1
    return first


@pytest.mark.parametrize("name, make, mean, std", RANDOM_OPS, ids=[r[0] for r in RANDOM_OPS])
def test_random_ops_inside_jit_draw_new_numbers_per_call(name, make, mean, std, reference_jit):
    sample = _check_random_jit(make, mean, std)
    if "randn" in name or name == "normal_":  # Gaussian, not just the right moments
        z = (sample - mean) / std
        assert abs((np.abs(z) < 1).mean() - 0.6827) < 0.02 and abs((z**3).mean()) < 0.1


def test_randn_inside_jit_through_llvm():
    _check_random_jit(lambda x: irc.randn(x.shape), 0.0, 1.0)


def test_eager_random_ops_are_seeded_and_refuse_bad_requests():
    irc.manual_seed(3)
    a = irc.randn(4)
    irc.manual_seed(3)
    np.testing.assert_array_equal(irc.randn(4).numpy(), a.numpy())
    assert irc.randn(2, 3, requires_grad=True).requires_grad
    with pytest.raises(FrontendError, match="only implemented for float dtypes"):
        irc.rand(3, dtype="int64")
    with pytest.raises(FrontendError, match="requires_grad=True created inside irc.jit"):
        irc.jit(lambda x: x + irc.randn(3, requires_grad=True))(irc.zeros(3))


def test_jitted_dropout_masks_equal_eager_masks_for_a_seed(reference_jit):
    """Keys are drawn per call in the order eager code draws them; the trace draws none."""
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(6, 6), nn.Dropout(0.3))
    x = irc.tensor(np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32))
    outputs = []
    for run in (model, irc.jit(model)):
        irc.manual_seed(11)
        outputs.append([run(x).numpy() for _ in range(2)])
    for eager, jitted in zip(*outputs):
        np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    assert not np.array_equal(outputs[0][0], outputs[0][1])
