"""`irc.optim`: optimizers with PyTorch's update formulas.

`step()` records every new parameter and state value as a lazy tensor (in
place, under `no_grad`) and then realizes all of them -- together with the
gradients and any BatchNorm running statistics the forward pass updated --
as ONE compiled program.  The program is cached by graph structure, so every
step after the first runs the same compiled code.  Inside `irc.jit` nothing
is realized: the updates become part of the traced static graph.

Hyper-parameters (lr, momentum, dampening, betas, eps, weight_decay) enter the
program as rank-0 inputs read from `param_groups` at every step, also at every
call of a jitted step, so learning-rate schedules work without recompiling.
Whether one is zero (and nesterov, amsgrad, maximize, the groups' parameters)
decides the graph: a jitted step is traced again when that changes.

    >>> opt = irc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from irc.frontend import graph
from irc.frontend.autograd import enable_grad, no_grad
from irc.frontend.graph import Tracing
from irc.frontend.realize import realize_all
from irc.frontend.tensor import Tensor, maximum, zeros_like
from irc.frontend.tracing import guard
from irc.nn.modules import _as_array, take_pending_state
from irc.runtime.devices import move


class Optimizer:
    """Base class: parameter groups (dicts with "params" and hyper-parameters), per-parameter state.

    Subclasses define `defaults` through `__init__`, `init_state(param, group)`,
    `update(param, grad, state, group, hyper)`, which updates `param` and `state`
    in place, and `GRAPH_KEYS`, the group entries whose truth value shapes the
    update's graph.  `update` reads hyper-parameter values as tensors,
    `hyper(name, param)`, never as Python numbers (those would be constants of
    a jitted step).  State is created with the parameter group, not at the first
    step, so every step records the same graph: eager steps share one compiled
    program and an `irc.jit` trace (which reads state created before it as
    inputs) stays valid.
    """

    GRAPH_KEYS: tuple[str, ...] = ()

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: dict[Tensor, dict] = {}
        self.param_groups: list[dict] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        names = {}
        if params and isinstance(params[0], tuple):  # named_parameters(), as PyTorch 2.13 takes them
            names = {"param_names": [name for name, _ in params]}
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can only optimize leaf Tensors, got {type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **group, "params": params, **names}
        self.param_groups.append(group)
        with no_grad():
            for p in params:
                self.state[p] = self.init_state(p, group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients (or, with set_to_none=False, make them zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = zeros_like(p.grad)  # a fresh zero gradient, without history

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One update of every parameter with a gradient; returns closure() if given.

        With a closure (which computes the loss and calls backward), the loss is
        realized in the same program as the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        guard(self._graph_keys)
        updated: list[Tensor] = []
        replay = Tracing.depth == 0 and _UPDATES.get(type(self)) is type(self).update
        with no_grad():
            for index, group in enumerate(self.param_groups):
                hyper = GroupScalars(self, index)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if replay:
                        _update_replayed(self, p, state, group, hyper)
                    else:
                        self.update(p, p.grad, state, group, hyper)
                    updated += [p, p.grad, *(v for v in state.values() if isinstance(v, Tensor))]
        if Tracing.depth == 0:
            outputs = [*updated, *take_pending_state(), *([loss] if isinstance(loss, Tensor) else [])]
            realize_all([t._node for t in outputs])
        return loss

    def _graph_keys(self) -> tuple:
        """What a traced step depends on besides tensors: the groups' parameters and `GRAPH_KEYS` flags."""
        return tuple((tuple(map(id, g["params"])), *(bool(g[k]) for k in self.GRAPH_KEYS)) for g in self.param_groups)

    def init_state(self, param: Tensor, group: dict) -> dict[str, Tensor]:
        return {}

    def update(self, param: Tensor, grad: Tensor, state: dict, group: dict, hyper: GroupScalars) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """{"state": {index: {name: value}}, "param_groups": [...]} with parameters as indices, like PyTorch."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        return {
            "state": {index[id(p)]: dict(s) for p, s in self.state.items()},
            "param_groups": [{**g, "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        params = [p for g in self.param_groups for p in g["params"]]
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, groups)
        ):
            raise ValueError("loaded state dict has a different number of parameter groups or parameters per group")
        for group, saved in zip(self.param_groups, groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        with no_grad():  # in place: a traced step keeps reading the same state tensors
            for i, saved in state_dict["state"].items():
                for name, value in saved.items():
                    own = self.state[params[i]].get(name)
                    if isinstance(own, Tensor):
                        array = np.array(_as_array(value), own.dtype)  # an irc or torch tensor, numpy, a number
                        if array.shape != own.shape:
                            raise ValueError(
                                f"loaded state dict has {name!r} of shape {list(array.shape)} for parameter {i}, "
                                f"whose {name!r} has shape {list(own.shape)}"
                            )
                        own._assign(Tensor(graph.data_node(array), own.device))

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


class GroupScalars:
    """Parameter group `index`'s hyper-parameters as rank-0 tensors, made once per step.

    `hyper("lr", p)` has `p`'s dtype and device and holds the group's current
    value; inside `irc.jit` it is an input read from the group on every call.
    "beta1" and "beta2" are the entries of "betas".
    """

    def __init__(self, optimizer: Optimizer, index: int):
        self._optimizer, self._index = optimizer, index
        self._made: dict[tuple, Tensor] = {}

    def __call__(self, name: str, like: Tensor) -> Tensor:
        key = (name, like.dtype, like.device)
        scalar = self._made.get(key)
        if scalar is None:
            optimizer, index, dtype = self._optimizer, self._index, like.dtype

            def read() -> np.ndarray:  # through the optimizer: `opt.param_groups` may be replaced
                group = optimizer.param_groups[index]
                value = group["betas"][int(name[-1]) - 1] if name in ("beta1", "beta2") else group[name]
                return np.array(value, dtype)

            read.state_name = name if index == 0 else f"group{index}.{name}"  # its name in a step package
            node = graph.data_node(move(read(), like.device))
            node.feed = read
            scalar = self._made[key] = Tensor(node, like.device)
        return scalar


#: the built-in optimizers' update functions, whose eager steps replay recorded updates (`_update_replayed`)
_UPDATES: dict[type, Callable] = {}
#: (update function, the group's GRAPH_KEYS truth values, param / grad / state types, device) -> (the
#: recorded update as a `graph.Replay`, the role of each of its arguments)
_update_plans: dict[tuple, tuple] = {}


def _update_replayed(optimizer: Optimizer, p: Tensor, state: dict, group: dict, hyper: GroupScalars) -> None:
    """`optimizer.update(p, p.grad, state, group, hyper)`, replayed from its graph recorded at an earlier
    step where one was (`graph.Replay`: ~1 us per op instead of ~5 us through the Tensor methods; the
    update of the digits CNN's 10 parameters by Adam is 230 ops every step).

    The update's graph depends only on what the key holds: `update` reads hyper-parameters as tensors
    (`hyper`), the group's entries only through the truth of `GRAPH_KEYS` (the contract of `Optimizer`,
    on which `irc.jit` relies as well), the rest on the types of the parameter, its gradient and state.
    The replayed ops are the recorded ones, so the step's program is the same either way."""
    grad = p.grad
    tensors = {name: t for name, t in state.items() if isinstance(t, Tensor)}
    key = (  # types by their numbers (`graph.type_info`): hashing xDSL types walks them
        type(optimizer).update,
        tuple([bool(group[k]) for k in optimizer.GRAPH_KEYS]),
        graph.type_info(p._node.type)[3],
        graph.type_info(grad._node.type)[3],
        tuple([(name, graph.type_info(t._node.type)[3]) for name, t in tensors.items()]),
        p.device,
    )
    plan = _update_plans.get(key)
    if plan is None:
        held = [(t, t._node) for t in (p, *tensors.values())]
        plan = _update_plans[key] = _record_update(optimizer, p, state, group, hyper)
        if not plan:
            return  # recorded as is: the update stays what `update` made
        for t, node in held:  # undone: the first step runs the replayed ops too, so its program is the later ones'
            t._set_node(node)
    elif not plan:
        optimizer.update(p, grad, state, group, hyper)
        return
    replay, roles = plan
    args = []
    for kind, name in roles:
        t = p if kind == "param" else grad if kind == "grad" else tensors[name] if kind == "state" else hyper(name, p)
        args.append(t._node)
    new_param, *new_state = replay(args)
    # the replayed results have the recorded types, which the key holds: no shape or dtype to check
    p._assign_node(new_param)
    for t, node in zip(tensors.values(), new_state, strict=True):
        t._assign_node(node)


def _record_update(optimizer: Optimizer, p: Tensor, state: dict, group: dict, hyper: GroupScalars):
    """Run `optimizer.update` as recorded ops and return its replay plan, or False where the update is not
    one function of the param, grad, state and hyper-parameter tensors (it made state, or read a value)."""
    roles = {id(p._node): ("param", None), id(p.grad._node): ("grad", None)}
    before = {name: t for name, t in state.items() if isinstance(t, Tensor)}
    for name, t in before.items():
        roles.setdefault(id(t._node), ("state", name))
    first = next(graph._serials)  # nodes from here on are the update's own (as a trace scope marks its start)
    optimizer.update(p, p.grad, state, group, hyper)
    after = {name: t for name, t in state.items() if isinstance(t, Tensor)}
    if after.keys() != before.keys() or any(a is not b for a, b in zip(after.values(), before.values())):
        return False  # the update made state: the next step records again, with it
    for (name, _, _), scalar in hyper._made.items():
        roles.setdefault(id(scalar._node), ("hyper", name))
    outputs = [p._node, *(t._node for t in after.values())]
    inside = lambda n: n.serial > first and n.value is None  # noqa: E731
    args = [n for n in graph.topological_order(outputs, lambda n: not inside(n)) if not inside(n)]
    if any(id(n) not in roles for n in args):
        return False  # a value the key does not determine (or a node from before the update)
    module, _ = graph.build_module(outputs, "update", args=args, stop=lambda n: not inside(n))
    return graph.Replay(next(iter(module.ops))), [roles[id(n)] for n in args]


def _state(p: Tensor, shape=None, value: float = 0.0) -> Tensor:
    """A realized state tensor like `p`: an input of the step program, also under irc.jit."""
    node = graph.data_node(np.full(p.shape if shape is None else shape, value, p.dtype))
    node.serial = -1  # state, even when created inside a trace: read on every call, not a constant of the trace
    return Tensor(node, p.device)


def _entry(state: dict, name: str, p: Tensor, shape=None, value: float = 0.0) -> Tensor:
    """state[name], created when missing (a hyper-parameter that was zero no longer is)."""
    entry = state.get(name)
    if entry is None:
        entry = state[name] = _state(p, shape, value)
    return entry


def _decayed_gradient(param: Tensor, grad: Tensor, group: dict, hyper: GroupScalars) -> Tensor:
    """The gradient to descend: negated with `maximize`, plus weight_decay * param (L2) when that is set."""
    g = -grad if group["maximize"] else grad
    return g + param * hyper("weight_decay", param) if group["weight_decay"] else g


def _check(**values: float) -> None:
    """PyTorch's range checks of hyper-parameters: each must be >= 0 ("lr" is "learning rate")."""
    for name, value in values.items():
        if not value >= 0.0:
            label = "learning rate" if name == "lr" else "epsilon value" if name == "eps" else f"{name} value"
            raise ValueError(f"Invalid {label}: {value}")


#: keywords of torch's optimizers that choose an implementation (or CUDA graph capture), not the math
TORCH_ONLY = ("foreach", "fused", "capturable", "differentiable")


def _ignore_torch_only(optimizer: str, options: dict) -> None:
    """Accept torch's implementation switches (irc compiles one program either way), warning once per call."""
    unknown = sorted(set(options) - set(TORCH_ONLY))
    if unknown:
        raise TypeError(f"{optimizer}.__init__() got an unexpected keyword argument {unknown[0]!r}")
    chosen = [f"{k}={v!r}" for k, v in options.items() if v]
    if chosen:
        warnings.warn(
            f"{optimizer}: {', '.join(chosen)} ignored (irc compiles the whole update into one program)", stacklevel=3
        )


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.

    d = g + weight_decay * p
    buf = d (first step) | momentum * buf + (1 - dampening) * d
    d = d + momentum * buf (nesterov) | buf
    p = p - lr * d
    """

    GRAPH_KEYS = ("momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def __init__(
        self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, maximize: bool = False, **torch_only,
    ):  # fmt: skip
        _ignore_torch_only("SGD", torch_only)
        _check(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, {**defaults, "maximize": maximize})

    def init_state(self, param, group):
        if not group["momentum"]:
            return {}
        state = {"momentum_buffer": _state(param)}
        if group["dampening"]:
            state["first_step"] = _state(param, (), 1.0)  # the first step takes d undamped
        return state

    def update(self, param, grad, state, group, hyper):
        d = _decayed_gradient(param, grad, group, hyper)
        if group["momentum"]:
            momentum = hyper("momentum", param)
            buf = _entry(state, "momentum_buffer", param)
            if group["dampening"]:  # scale 1 on the first step, 1 - dampening after
                first, dampening = _entry(state, "first_step", param, (), 1.0), hyper("dampening", param)
                buf._assign(buf * momentum + d * (first * dampening + (1 - dampening)))
                first._assign(first * 0.0)
            else:
                buf._assign(buf * momentum + d)
            d = d + buf * momentum if group["nesterov"] else buf
        param._assign(param - d * hyper("lr", param))


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's formulas, optional AMSGrad; weight decay is L2 added to the gradient.

        g = g + weight_decay * p                    (Adam; AdamW decays p directly)
        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)

    The step count t is a tensor, so every step runs the same compiled program.
    """

    GRAPH_KEYS = ("weight_decay", "amsgrad", "maximize", "decoupled_weight_decay")

    def __init__(
        self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False, *,
        decoupled_weight_decay: bool = False, **torch_only,
    ):  # fmt: skip
        _ignore_torch_only(type(self).__name__, torch_only)
        _check(lr=lr, eps=eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _check(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, {**defaults, "maximize": maximize, "decoupled_weight_decay": decoupled_weight_decay})

    def init_state(self, param, group):
        state = {"step": _state(param, ()), "exp_avg": _state(param), "exp_avg_sq": _state(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _state(param)
        return state

    def update(self, param, grad, state, group, hyper):
        g = -grad if group["maximize"] else grad
        lr, beta1, beta2 = hyper("lr", param), hyper("beta1", param), hyper("beta2", param)
        step = state["step"]._assign(state["step"] + 1)
        if group["weight_decay"]:
            wd = hyper("weight_decay", param)
            if group["decoupled_weight_decay"]:
                param._assign(param * (1 - lr * wd))
            else:
                g = g + param * wd
        m = state["exp_avg"]._assign(state["exp_avg"] + (g - state["exp_avg"]) * (1 - beta1))
        v = state["exp_avg_sq"]._assign(state["exp_avg_sq"] * beta2 + g * g * (1 - beta2))
        if group["amsgrad"]:
            max_v = _entry(state, "max_exp_avg_sq", param)
            v = max_v._assign(maximum(max_v, v))
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step).sqrt()
        denom = v.sqrt() / bias_correction2_sqrt + hyper("eps", param)
        param._assign(param - m / denom * (lr / bias_correction1))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p = p * (1 - lr * weight_decay) before the Adam step."""

    def __init__(
        self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False, **torch_only,
    ):  # fmt: skip
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay=True, **torch_only
        )


class Adagrad(Optimizer):
    """Adagrad: per-element learning rates from the sum of squared gradients.

    g = g + weight_decay * p
    sum = sum + g * g                           (sum starts at initial_accumulator_value)
    p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    """

    GRAPH_KEYS = ("weight_decay", "maximize")

    def __init__(
        self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False, **torch_only,
    ):  # fmt: skip
        _ignore_torch_only("Adagrad", torch_only)
        _check(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay)
        _check(initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay)
        super().__init__(
            params, {**defaults, "initial_accumulator_value": initial_accumulator_value, "maximize": maximize}
        )

    def init_state(self, param, group):
        # the constructor's value, also for groups that set their own (as PyTorch does)
        return {"step": _state(param, ()), "sum": _state(param, value=self.defaults["initial_accumulator_value"])}

    def update(self, param, grad, state, group, hyper):
        g = _decayed_gradient(param, grad, group, hyper)
        step = state["step"]._assign(state["step"] + 1)
        total = state["sum"]._assign(state["sum"] + g * g)
        lr = hyper("lr", param) / ((step - 1) * hyper("lr_decay", param) + 1)
        param._assign(param - g / (total.sqrt() + hyper("eps", param)) * lr)


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum, as PyTorch computes it.

    g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g
    avg = sqrt(v - m * m) + eps  with m = alpha * m + (1 - alpha) * g  (centered) | sqrt(v) + eps
    buf = momentum * buf + g / avg;  p = p - lr * buf   (momentum) | p = p - lr * g / avg
    """

    GRAPH_KEYS = ("momentum", "weight_decay", "centered", "maximize")

    def __init__(
        self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
        momentum: float = 0.0, centered: bool = False, maximize: bool = False, **torch_only,
    ):  # fmt: skip
        _ignore_torch_only("RMSprop", torch_only)
        _check(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(params, {**defaults, "maximize": maximize})

    def init_state(self, param, group):
        state = {"step": _state(param, ()), "square_avg": _state(param)}
        if group["momentum"]:
            state["momentum_buffer"] = _state(param)
        if group["centered"]:
            state["grad_avg"] = _state(param)
        return state

    def update(self, param, grad, state, group, hyper):
        g = _decayed_gradient(param, grad, group, hyper)
        alpha = hyper("alpha", param)
        state["step"]._assign(state["step"] + 1)
        v = state["square_avg"]._assign(state["square_avg"] * alpha + g * g * (1 - alpha))
        if group["centered"]:
            m = _entry(state, "grad_avg", param)
            m._assign(m + (g - m) * (1 - alpha))
            v = v - m * m
        avg = v.sqrt() + hyper("eps", param)
        if group["momentum"]:
            buf = _entry(state, "momentum_buffer", param)
            buf._assign(buf * hyper("momentum", param) + g / avg)
            param._assign(param - buf * hyper("lr", param))
        else:
            param._assign(param - g / avg * hyper("lr", param))


class Adadelta(Optimizer):
    """Adadelta (Zeiler): steps scaled by the ratio of running RMS of updates and of gradients.

    g = g + weight_decay * p
    v = rho * v + (1 - rho) * g * g
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * delta * delta
    p = p - lr * delta
    """

    GRAPH_KEYS = ("weight_decay", "maximize")

    def __init__(
        self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
        *, maximize: bool = False, **torch_only,
    ):  # fmt: skip
        _ignore_torch_only("Adadelta", torch_only)
        _check(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check(eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        super().__init__(params, {**defaults, "maximize": maximize})

    def init_state(self, param, group):
        return {"step": _state(param, ()), "square_avg": _state(param), "acc_delta": _state(param)}

    def update(self, param, grad, state, group, hyper):
        g = _decayed_gradient(param, grad, group, hyper)
        rho, eps = hyper("rho", param), hyper("eps", param)
        state["step"]._assign(state["step"] + 1)
        v = state["square_avg"]._assign(state["square_avg"] * rho + g * g * (1 - rho))
        u = state["acc_delta"]
        delta = (u + eps).sqrt() / (v + eps).sqrt() * g
        u._assign(u * rho + delta * delta * (1 - rho))
        param._assign(param - delta * hyper("lr", param))


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta"]


_UPDATES.update({cls: cls.update for cls in (SGD, Adam, AdamW, Adagrad, RMSprop, Adadelta)})
