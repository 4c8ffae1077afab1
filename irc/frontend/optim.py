"""`irc.optim`: optimizers with PyTorch's update formulas.

`step()` records every new parameter and state value as a lazy tensor (in
place, under `no_grad`) and then realizes all of them -- together with the
gradients and any BatchNorm running statistics the forward pass updated --
as ONE compiled program.  The program is cached by graph structure, so every
step after the first runs the same compiled code.  Inside `irc.jit` nothing
is realized: the updates become part of the traced static graph.

    >>> opt = irc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from irc.frontend import graph
from irc.frontend.autograd import enable_grad, no_grad
from irc.frontend.graph import Tracing
from irc.frontend.nn import take_pending_state
from irc.frontend.realize import realize_all
from irc.frontend.tensor import Tensor, maximum


class Optimizer:
    """Base class: parameter groups (dicts with "params" and hyper-parameters), per-parameter state.

    Subclasses define `defaults` through `__init__`, `init_state(param, group)` and
    `update(param, grad, state, group)`, which updates `param` and `state` in place.
    State is created with the parameter group, not at the first step, so every
    step records the same graph: eager steps share one compiled program and an
    `irc.jit` trace (which reads state created before it as inputs) stays valid.
    """

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
        for p in params:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can only optimize leaf Tensors, got {type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **group, "params": params}
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
                    p.grad = p.grad.detach().zero_()

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One update of every parameter with a gradient; returns closure() if given.

        With a closure (which computes the loss and calls backward), the loss is
        realized in the same program as the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        updated: list[Tensor] = []
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    self.update(p, p.grad, state, group)
                    updated += [p, p.grad, *(v for v in state.values() if isinstance(v, Tensor))]
        if Tracing.depth == 0:
            outputs = [*updated, *take_pending_state(), *([loss] if isinstance(loss, Tensor) else [])]
            realize_all([t._node for t in outputs])
        return loss

    def init_state(self, param: Tensor, group: dict) -> dict[str, Tensor]:
        return {}

    def update(self, param: Tensor, grad: Tensor, state: dict, group: dict) -> None:
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
                        own._assign(Tensor(graph.data_node(np.array(value.numpy(), own.dtype)), own.device))

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _state(p: Tensor, shape=None, value: float = 0.0) -> Tensor:
    """A realized state tensor like `p` (a data leaf: an input of the step program, also under irc.jit)."""
    return Tensor(graph.data_node(np.full(p.shape if shape is None else shape, value, p.dtype)), p.device)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.

    d = g + weight_decay * p
    buf = d (first step) | momentum * buf + (1 - dampening) * d
    d = d + momentum * buf (nesterov) | buf
    p = p - lr * d
    """

    def __init__(
        self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, maximize: bool = False,
    ):  # fmt: skip
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr={lr}, momentum={momentum} or weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, {**defaults, "maximize": maximize})

    def init_state(self, param, group):
        if not group["momentum"]:
            return {}
        state = {"momentum_buffer": _state(param)}
        if group["dampening"]:
            state["first_step"] = _state(param, (), 1.0)  # the first step takes d undamped
        return state

    def update(self, param, grad, state, group):
        d = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            d = d + param * group["weight_decay"]
        momentum, dampening = group["momentum"], group["dampening"]
        if momentum:
            buf = state["momentum_buffer"]
            if dampening:  # scale 1 on the first step, 1 - dampening after
                first = state["first_step"]
                buf._assign(buf * momentum + d * (first * dampening + (1 - dampening)))
                first._assign(first * 0.0)
            else:
                buf._assign(buf * momentum + d)
            d = d + buf * momentum if group["nesterov"] else buf
        param._assign(param - d * group["lr"])


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's formulas, optional AMSGrad; weight decay is L2 added to the gradient.

        g = g + weight_decay * p                    (Adam; AdamW decays p directly)
        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)

    The step count t is a tensor, so every step runs the same compiled program.
    """

    DECOUPLED_WEIGHT_DECAY = False

    def __init__(
        self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
    ):  # fmt: skip
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(
                f"{type(self).__name__}: invalid lr={lr}, betas={betas}, eps={eps} or weight_decay={weight_decay}"
            )
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, {**defaults, "maximize": maximize})

    def init_state(self, param, group):
        state = {"step": _state(param, ()), "exp_avg": _state(param), "exp_avg_sq": _state(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _state(param)
        return state

    def update(self, param, grad, state, group):
        g = -grad if group["maximize"] else grad
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        step = state["step"]._assign(state["step"] + 1)
        if wd and self.DECOUPLED_WEIGHT_DECAY:
            param._assign(param * (1 - lr * wd))
        elif wd:
            g = g + param * wd
        m = state["exp_avg"]._assign(state["exp_avg"] + (g - state["exp_avg"]) * (1 - beta1))
        v = state["exp_avg_sq"]._assign(state["exp_avg_sq"] * beta2 + g * g * (1 - beta2))
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"]._assign(maximum(state["max_exp_avg_sq"], v))
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step).sqrt()
        denom = v.sqrt() / bias_correction2_sqrt + group["eps"]
        param._assign(param - m / denom * (lr / bias_correction1))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p = p * (1 - lr * weight_decay) before the Adam step."""

    DECOUPLED_WEIGHT_DECAY = True

    def __init__(
        self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False,
    ):  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
