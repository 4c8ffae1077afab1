"""`irc.optim`: optimizers (PyTorch spelling and update formulas).

>>> opt = irc.optim.Adam(model.parameters(), lr=1e-3)
"""

from irc.optim.optimizers import SGD, Adam, AdamW, Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
