"""irc: a multi-level IR compiler toolchain.

    >>> import irc, numpy as np
    >>> @irc.jit(target="llvm")
    ... def f(x, w):
    ...     return (x @ w).relu().sum()
"""
