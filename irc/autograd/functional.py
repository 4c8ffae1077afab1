"""`irc.autograd.functional` (`torch.autograd.functional`): `jacobian`, `hessian`, `vjp`, `jvp`, `hvp`, `vhp`.
The implementation is `irc.frontend.autograd_tools`."""

from irc.frontend.autograd_tools import hessian, hvp, jacobian, jvp, vhp, vjp

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]
