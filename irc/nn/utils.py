"""`irc.nn.utils`: gradient clipping as torch.nn.utils spells it.

Both functions scale or clamp `p.grad` in place (recorded lazily like any
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
from irc.frontend.tensor import Tensor, stack, tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
    error_if_nonfinite: bool = False, foreach: bool | None = None,
) -> Tensor:  # fmt: skip
    """Scale the gradients so that their joint `norm_type` norm is at most `max_norm`; return that norm.

    The norm is of all gradients together (as if concatenated); the scale is
    min(1, max_norm / (norm + 1e-6)), as in PyTorch.  `norm_type` may be
    `inf`.  `error_if_nonfinite` needs the norm's value, so it realizes it
    (eagerly) and is refused inside `irc.jit`.
    """
    grads = _grads(parameters)
    if not grads:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        if math.isinf(norm_type):
            norms = [g.abs().amax() for g in grads]
            total = norms[0] if len(norms) == 1 else stack(norms).amax()
        else:
            norms = [(g.abs() ** norm_type).sum() for g in grads]
            total = (norms[0] if len(norms) == 1 else stack(norms).sum()) ** (1.0 / norm_type)
        if error_if_nonfinite:
            if Tracing.depth > 0:
                raise FrontendError(
                    "clip_grad_norm_: error_if_nonfinite needs the norm's value, which irc.jit does not have "
                    "while tracing; check the returned norm outside the jitted function",
                    user_location()[:2],
                )
            if not math.isfinite(total.item()):
                raise RuntimeError(
                    f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                    "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                    "anyway, set `error_if_nonfinite=False`"
                )
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale)
    return total


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:  # fmt: skip
    """Clamp every gradient to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g._assign(g.clamp(-clip_value, clip_value))


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
