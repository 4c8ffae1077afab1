"""Testing helpers for users and irc's own tests: `gradcheck`.

>>> from irc.testing import gradcheck
>>> gradcheck(lambda x, w: (x @ w).tanh().sum(dim=0), [np.random.rand(2, 3), np.random.rand(3, 4)])
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from irc.frontend.spec import Spec
from irc.frontend.tracing import trace
from irc.interpreters.reference import find_entry, run_hl
from irc.transforms.autodiff import build_vjp, float_args


def gradcheck(f: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check f's reverse-mode derivatives against central finite differences, like
    `torch.autograd.gradcheck`.

    Floating-point inputs are converted to float64.  f is traced once; both
    Jacobians (every float output element by every float input element) are
    computed with the hl reference interpreter: the analytical one row by row
    from the VJP function, the numerical one from f itself.  Returns True, or
    raises an AssertionError naming the input and its worst element.
    """
    arrays = [np.asarray(x, np.float64) if np.asarray(x).dtype.kind == "f" else np.asarray(x) for x in inputs]
    module = trace(f, [Spec.of(a) for a in arrays], name=getattr(f, "__name__", "f"))
    fn = find_entry(module)
    wrt = float_args(fn)
    backward = ModuleOp([build_vjp(fn, wrt, seed="input")])
    outputs = run_hl(module, arrays)
    checked = [k for k, out in enumerate(outputs) if out.dtype.kind == "f"]
    if not wrt or not checked:
        raise ValueError("gradcheck: f has no floating-point inputs or outputs to check")

    def output_vector(values: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.ravel(values[k]) for k in checked])

    n_out = sum(outputs[k].size for k in checked)
    analytical = [np.zeros((arrays[i].size, n_out)) for i in wrt]
    for row in range(n_out):
        cotangents = [np.zeros_like(out) for out in outputs]
        flat = np.zeros(n_out)
        flat[row] = 1.0
        offset = 0
        for k in checked:
            cotangents[k] = flat[offset : offset + outputs[k].size].reshape(outputs[k].shape).astype(outputs[k].dtype)
            offset += outputs[k].size
        for grads, g in zip(analytical, run_hl(backward, [*arrays, *cotangents])):
            grads[:, row] = np.ravel(g)

    for i, a in zip(wrt, analytical):
        numerical = np.zeros_like(a)
        for j in range(arrays[i].size):
            shifted = []
            for sign in (1, -1):
                x = arrays[i].copy()
                x.flat[j] += sign * eps
                shifted.append(output_vector(run_hl(module, [*arrays[:i], x, *arrays[i + 1 :]])))
            numerical[j] = (shifted[0] - shifted[1]) / (2 * eps)
        excess = np.abs(a - numerical) - (atol + rtol * np.abs(numerical))
        if excess.size and excess.max() > 0:
            j, row = np.unravel_index(np.argmax(excess), excess.shape)
            k, out_index = _output_element(row, [outputs[k] for k in checked])
            raise AssertionError(
                f"gradcheck: the gradient of input {i} (shape {arrays[i].shape}) is wrong; worst element "
                f"input{_index(j, arrays[i].shape)} -> output {checked[k]}{_index(out_index, outputs[checked[k]].shape)}: "
                f"analytical {a[j, row]:.6g}, numerical {numerical[j, row]:.6g} (atol {atol}, rtol {rtol})"
            )
    return True


def _output_element(row: int, outputs: Sequence[np.ndarray]) -> tuple[int, int]:
    """(output number, flat index in it) of a row of the stacked, flattened outputs."""
    for k, out in enumerate(outputs):
        if row < out.size:
            return k, row
        row -= out.size
    raise IndexError(row)


def _index(flat: int, shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"
