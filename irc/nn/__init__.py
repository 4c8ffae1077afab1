"""`irc.nn`: neural-network building blocks (PyTorch spelling).

>>> import irc.nn as nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
"""

from irc.nn import functional, init, parallel, utils
from irc.nn.layers_more import *  # noqa: F403
from irc.nn.layers_more import __all__ as _layers_more
from irc.nn.modules import *  # noqa: F403 (the modules' __all__ is the package's)
from irc.nn.modules import __all__ as _modules
from irc.nn.parallel import DataParallel
from irc.nn.rnn import *  # noqa: F403
from irc.nn.rnn import __all__ as _rnn
from irc.nn.transformer import *  # noqa: F403
from irc.nn.transformer import __all__ as _transformer

__all__ = ["functional", "init", "parallel", "utils", "DataParallel", *_modules, *_layers_more, *_rnn, *_transformer]
