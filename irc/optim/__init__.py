"""`irc.optim`: optimizers and learning-rate schedulers (PyTorch spelling and update formulas).

>>> opt = irc.optim.Adam(model.parameters(), lr=1e-3)
>>> sched = irc.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
"""

from irc.optim import lr_scheduler
from irc.optim.lbfgs import LBFGS
from irc.optim.optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "LBFGS", "lr_scheduler"]
