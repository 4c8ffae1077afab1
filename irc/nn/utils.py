"""`irc.nn.utils`: gradient clipping and parameter vectors as torch.nn.utils spells them.

The clipping functions scale or clamp `p.grad` in place (recorded lazily like any
update), so they work eagerly and inside an `irc.jit` training step, where
the clipped gradients feed the optimizer step of the same program.

    >>> loss.backward()
    >>> total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    >>> opt.step()
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from irc.errors import FrontendError
from irc.frontend.autograd import no_grad
from irc.frontend.graph import Tracing, user_location
from irc.frontend.tensor import Tensor, cat, stack, tensor


def _tensors(tensors: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [p.grad for p in _tensors(parameters) if p.grad is not None]


def get_total_norm(
    tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:  # fmt: skip
    """The `norm_type` norm of all `tensors` together (as if concatenated into one vector; `inf` allowed),
    without gradient history, as torch's.

    `error_if_nonfinite` needs the norm's value, so it realizes it (eagerly) and is refused inside `irc.jit`.

    >>> nn.utils.get_total_norm([irc.tensor([3.0]), irc.tensor([4.0])]).item()
    5.0
    """
    tensors = _tensors(tensors)
    if not tensors:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        if math.isinf(norm_type):
            norms = [t.abs().amax() for t in tensors]
            total = norms[0] if len(norms) == 1 else stack(norms).amax()
        else:
            norms = [(t.abs() ** norm_type).sum() for t in tensors]
            total = (norms[0] if len(norms) == 1 else stack(norms).sum()) ** (1.0 / norm_type)
    if error_if_nonfinite:
        if Tracing.depth > 0:
            raise FrontendError(
                "get_total_norm: error_if_nonfinite needs the norm's value, which irc.jit does not have "
                "while tracing; check the returned norm outside the jitted function",
                user_location()[:2],
            )
        if not math.isfinite(total.item()):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                "anyway, set `error_if_nonfinite=False`"
            )
    return total


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Tensor, foreach: bool | None = None
) -> None:  # fmt: skip
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6)) in place, `total_norm` given (e.g. by
    `get_total_norm` of the gradients), as torch's."""
    with no_grad():
        scale = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for g in _grads(parameters):
            g.mul_(scale)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
    error_if_nonfinite: bool = False, foreach: bool | None = None,
) -> Tensor:  # fmt: skip
    """Scale the gradients so that their joint `norm_type` norm is at most `max_norm`; return that norm.

    `get_total_norm` of the gradients, then `clip_grads_with_norm_`: the scale is
    min(1, max_norm / (norm + 1e-6)), as in PyTorch.
    """
    parameters = _tensors(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:  # fmt: skip
    """Clamp every gradient to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g._assign(g.clamp(-clip_value, clip_value))


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated into one vector (differentiable, as torch's).

    >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape
    (8,)
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters (`p.data = ...`, no gradient history), as torch."""
    if not isinstance(vec, Tensor):
        kind = type(vec)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"expected torch.Tensor, but got: {name}")
    pointer = 0
    for p in parameters:
        p.data = vec[pointer : pointer + p.numel()].reshape(p.shape).detach()
        pointer += p.numel()


__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector",
    "vector_to_parameters",
]  # fmt: skip
