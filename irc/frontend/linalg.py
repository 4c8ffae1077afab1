"""`irc.linalg`: PyTorch's `torch.linalg`, as far as irc has it (`vector_norm`)."""

from irc.frontend.mathops import vector_norm

__all__ = ["vector_norm"]
