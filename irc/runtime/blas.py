"""The thread count of numpy's OpenBLAS, set for the duration of a block (Linux; elsewhere a no-op).

    with blas_threads(1):   # numpy's matmuls on one thread inside the block
        run_hl(module, inputs)

Eager's interpreter tier runs its matmuls through numpy while a background compile
(irc.frontend.realize) takes a core: OpenBLAS's threads then wait on each other
and on the compile (docs/eager.md, "Measured"). Found through /proc/self/maps
and the library's own `openblas_set_num_threads` (numpy's wheels name it
`scipy_openblas_set_num_threads64_`), as threadpoolctl does; when it is not
found, nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterator
from contextlib import contextmanager

_SUFFIXES = ("scipy_openblas_{}64_", "scipy_openblas_{}", "openblas_{}64_", "openblas_{}")


@functools.cache
def _openblas() -> tuple | None:
    """(get_num_threads, set_num_threads) of the OpenBLAS numpy loaded, or None."""
    import numpy  # noqa: F401 - loads its BLAS

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SUFFIXES:
            get = getattr(library, name.format("get_num_threads"), None)
            set_ = getattr(library, name.format("set_num_threads"), None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


@contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """numpy's OpenBLAS runs on at most `count` threads inside the block (then as before)."""
    functions = _openblas()
    if functions is None:
        yield
        return
    get, set_ = functions
    before = get()
    if before <= count:
        yield
        return
    set_(count)
    try:
        yield
    finally:
        set_(before)
