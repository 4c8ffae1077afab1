"""Input arrays for `irc run`: `--input NAME=FILE.npy` files and seeded random values.

numpy only (no compiler import), so a compiled package runs on a machine without xDSL or TVM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from irc.errors import InputError, IRCError
from irc.runtime.dtypes import load_npy, supported_dtype
from irc.runtime.executor import format_bytes
from irc.runtime.spec import Spec


def random_inputs(specs: Sequence[Spec], seed: int = 0) -> dict[str, np.ndarray]:
    """Reproducible random arrays for `specs` (`Spec.random`: irc.runtime.dtypes.random_array's rule), from `seed`."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for s in specs:
        try:
            arrays[s.name] = s.random(rng)
        except (ValueError, MemoryError) as e:  # numpy: "array is too big", or the allocation failed
            size = math.prod(s.shape) * s.dtype.itemsize
            raise IRCError(
                f"input {s.name}: a random {s.shape} {s.dtype} array takes {format_bytes(size)} ({size} bytes), "
                f"more than this machine can allocate ({type(e).__name__}: {e})"
            ) from None
    return arrays


def load_input_arrays(specs: Sequence[Spec], assignments: Sequence[str], seed: int = 0) -> list[np.ndarray]:
    """The program's inputs in order: `NAME=FILE.npy` assignments, random (seeded) for the rest."""
    by_name = {s.name: s for s in specs}
    arrays = random_inputs(specs, seed)
    given: set[str] = set()
    for assignment in assignments:
        name, eq, file = assignment.partition("=")
        if not eq or not name or not file:
            raise InputError(f"--input '{assignment}': expected NAME=FILE.npy")
        if name not in by_name:
            raise InputError(f"--input {name}: no such input; the inputs are {', '.join(by_name) or 'none'}")
        if name in given:
            raise InputError(f"--input {name}: given twice")
        given.add(name)
        try:
            value = load_npy(file)
        except FileNotFoundError:
            raise InputError(f"--input {name}: {file}: no such file") from None
        except Exception as e:
            raise InputError(f"--input {name}: cannot read {file} as a .npy array: {e}") from None
        supported_dtype(value.dtype, f"--input {name}: {file}", InputError)
        spec = by_name[name]
        if value.shape != spec.shape or value.dtype != spec.dtype:
            raise InputError(
                f"--input {name}: {file} holds {value.shape} {value.dtype}, but {name} is declared {spec.shape} {spec.dtype}"
            )
        arrays[name] = value
    return [arrays[s.name] for s in specs]
