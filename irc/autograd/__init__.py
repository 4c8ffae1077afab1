"""`irc.autograd` (`torch.autograd`): `grad`, `backward`, custom `Function`s, `gradcheck`, `functional`
(jacobian, hessian, vjp, jvp, hvp, vhp) and the grad-mode switches; `from irc.autograd import Function`
works as `from torch.autograd import Function` does. The implementations are `irc.frontend.autograd`
(the backward pass), `irc.frontend.function` and `irc.frontend.autograd_tools`."""

from irc.autograd import functional
from irc.frontend.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from irc.frontend.autograd_tools import GradcheckError, Variable, backward, grad, gradcheck, gradgradcheck
from irc.frontend.function import Function, FunctionCtx, once_differentiable

__all__ = [
    "Function", "FunctionCtx", "GradcheckError", "Variable", "backward", "enable_grad", "functional", "grad",
    "gradcheck", "gradgradcheck", "inference_mode", "is_grad_enabled", "no_grad", "once_differentiable",
    "set_grad_enabled",
]  # fmt: skip
