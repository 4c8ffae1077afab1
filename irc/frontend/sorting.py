"""Sorting as torch spells it: `sort`, `argsort`, `msort`, `topk`, `kthvalue`, `median`, `nanmedian`.

Each sorts along the sorted dim (moved last) with one `hl.argsort` (the first k indices, stable, in
torch's order: NaN after every number ascending, before them descending, NaNs tying with each other)
and picks the values with `gather`; the values' gradient is that of `gather`.  The numpy interpreter
runs hl.argsort as numpy's stable sort, O(n log n); compiled code gets its rank-based decomposition
(`irc/transforms/decompose.py`), O(n^2) work and memory per row (docs/torch-api.md gives the cost).
"""

from __future__ import annotations

from collections import namedtuple

from irc.errors import FrontendError
from irc.frontend.graph import apply, user_location
from irc.frontend.shape_ops import iota
from irc.ir import hl

#: what torch.return_types holds: `values, indices = x.sort()` and `x.sort().values`
SortResult = namedtuple("sort", ["values", "indices"])


def _err(message: str) -> FrontendError:
    return FrontendError(message, user_location()[:2])


def _order(x, descending: bool, k: int | None = None):
    """The int64 indices that sort the last dim of `x` (stably), the first `k` of them if given: `hl.argsort`."""
    attrs = {} if k is None else {"k": k}
    return x._new(apply(hl.ArgsortOp, [x._node], descending=bool(descending), **attrs))


def _along(x, dim: int, fn):
    """`fn` applied to `x` with `dim` moved last, its results moved back."""
    if x.ndim == 0:
        values, indices = fn(x.reshape(1))
        return values.reshape(()), indices.reshape(())
    d = x._dim(dim)
    last = x.ndim - 1
    moved = x.transpose(d, last) if d != last else x
    values, indices = fn(moved)
    if d != last:
        values, indices = values.transpose(d, last), indices.transpose(d, last)
    return values, indices


TopkResult = namedtuple("topk", ["values", "indices"])

KthResult = namedtuple("kthvalue", ["values", "indices"])


def _pick(self, dim, keepdim: bool, position, name: str):
    """values and indices at sorted `position` (an int or a (…, 1) int64 tensor of the moved layout)."""
    if self.ndim and self.shape[self._dim(dim)] == 0:
        raise _err(f"{name}(): Expected reduction dim {dim} to have non-zero size.")

    def fn(x):
        idx = _order(x, False)
        pos = position(x) if callable(position) else iota(x, (*x.shape[:-1], 1), 0) * 0 + position
        chosen = idx.gather(-1, pos)
        return x.gather(-1, chosen), chosen

    values, indices = _along(self, dim, fn)
    if not keepdim and self.ndim:
        d = self._dim(dim)
        values, indices = values.squeeze(d), indices.squeeze(d)
    return KthResult(values, indices)


def _median(self, dim, keepdim: bool, ignore_nan: bool):
    name = "nanmedian" if ignore_nan else "median"
    if dim is None:
        if self.numel() == 0:
            return self.reshape(-1).sum() * float("nan") if self.is_floating_point() else self.reshape(-1).sum()
        return _pick(self.reshape(-1), 0, False, _position(ignore_nan), name).values
    return _pick(self, dim, keepdim, _position(ignore_nan), name)


def _position(ignore_nan: bool):
    """The sorted position of the (lower) median: of the non-NaN values, or the first NaN when one is there."""

    def position(x):
        n = x.shape[-1]
        if not x.is_floating_point():
            return iota(x, (*x.shape[:-1], 1), 0) * 0 + (n - 1) // 2
        nans = (x != x).to("int64").sum(-1, keepdim=True)
        if ignore_nan:
            return ((n - nans - 1) // 2).maximum(0)
        return (nans > 0).to("int64") * (n - nans) + (nans == 0).to("int64") * ((n - 1) // 2)

    return position


class Sorting:
    """Methods of `Tensor` (its base class)."""

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
        """(values, indices) sorted along `dim`; always stable (ties keep their order), NaN last ascending."""
        if isinstance(dim, bool):  # torch's sort(stable, dim, descending) overload is keyword-only here
            raise TypeError("sort(): pass `stable=` by keyword")

        def fn(x):
            idx = _order(x, descending)
            return x.gather(-1, idx), idx

        return SortResult(*_along(self, dim, fn))

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return self.sort(dim, descending, stable).indices

    def msort(self):
        """The values sorted along dim 0."""
        return self.sort(0).values

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopkResult:
        """The `k` largest (or smallest) along `dim`, in sorted order (also when `sorted=False`)."""
        n = self.shape[self._dim(dim)] if self.ndim else 1
        if not 0 <= k <= n:
            raise _err("selected index k out of range")

        def fn(x):
            idx = _order(x, largest, k)
            return x.gather(-1, idx), idx

        return TopkResult(*_along(self, dim, fn))

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False) -> KthResult:
        """The `k`-th smallest (1-based) along `dim`, and its index."""
        n = self.shape[self._dim(dim)] if self.ndim else 1
        if not 1 <= k <= n:
            raise _err(f"kthvalue(): selected number k out of range for dimension {self._dim(dim) if self.ndim else 0}")
        return _pick(self, dim, keepdim, k - 1, "kthvalue")

    def median(self, dim=None, keepdim: bool = False):
        """The lower median (of all values, or (values, indices) along `dim`); NaN if a NaN is there."""
        return _median(self, dim, keepdim, ignore_nan=False)

    def nanmedian(self, dim=None, keepdim: bool = False):
        """`median` ignoring NaNs (NaN only where all are NaN)."""
        return _median(self, dim, keepdim, ignore_nan=True)
