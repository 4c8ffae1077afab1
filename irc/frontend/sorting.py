"""Sorting as torch spells it: `sort`, `argsort`, `msort`, `topk`, `kthvalue`, `median`, `nanmedian`,
`quantile`, `nanquantile`, `mode`.

Each sorts along the sorted dim (moved last) with one `hl.argsort` (the first k indices, stable, in
torch's order: NaN after every number ascending, before them descending, NaNs tying with each other)
and picks the values with `gather`; the values' gradient is that of `gather`.  The numpy interpreter
runs hl.argsort as numpy's stable sort, O(n log n); compiled code gets its rank-based decomposition
(`irc/transforms/decompose.py`), O(n^2) work and memory per row (docs/torch-api.md gives the cost).
"""

from __future__ import annotations

from collections import namedtuple

from irc.errors import FrontendError
from irc.frontend import graph
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
        flat = self.reshape(-1)
        median = _pick(flat, 0, False, _position(ignore_nan), name).values
        if not self.is_floating_point():
            return median
        # the gradient shared evenly by the elements equal to the median (NaN ones when it is NaN), as torch's
        value = median.detach()
        tie = (flat == value) | (flat.isnan() & value.isnan())
        spread = (flat - value).where(tie, 0.0).sum() / tie.sum()._cast(flat._node.dtype)
        return value + spread
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


ModeResult = namedtuple("mode", ["values", "indices"])

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool):
    """torch's quantile: sort (NaN last), rank q * (n - 1) among the (non-NaN, for nanquantile) values, then
    the value below, above, nearest (half to even) or interpolated; any NaN makes quantile's result NaN."""
    name = "nanquantile" if ignore_nan else "quantile"
    if x._node.dtype not in ("f32", "f64"):
        raise _err(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise _err(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, but got "
                   f"{interpolation}")  # fmt: skip
    if isinstance(q, type(x)):
        if q.ndim > 1:
            raise _err(f"{name}() q must be a scalar or 1D tensor")
        if q._node.dtype != x._node.dtype:
            raise _err(f"{name}() q tensor must be same dtype as the input tensor")
        if graph.Tracing.depth == 0 and ((q.numpy() < 0) | (q.numpy() > 1)).any():
            raise _err(f"{name}() q values must be in the range [0, 1]")
        scalar, qs = q.ndim == 0, q.reshape(-1)
    else:
        if not 0 <= q <= 1:
            raise _err(f"{name}() q must be in the range [0, 1] but got {q}")
        scalar, qs = True, x.new_tensor([float(q)])
    if x.numel() == 0:
        raise _err(f"{name}() input tensor must be non-empty")
    d = 0 if dim is None or x.ndim == 0 else x._dim(dim)
    src = x.reshape(-1) if dim is None or x.ndim == 0 else x
    ordered = src.movedim(d, -1).sort(-1).values  # (..., n)
    n = ordered.shape[-1]
    if ignore_nan:
        count = (~ordered.isnan()).sum(-1, keepdim=True)._cast(x._node.dtype)
        ranks = qs * (count - 1)
        ranks = ranks.where(ranks >= 0, 0.0)
    else:
        ranks = (qs * (n - 1)).where(~ordered[..., -1:].isnan(), float(n - 1))
    ranks = ranks.expand(*ordered.shape[:-1], qs.shape[0])
    if interpolation in ("lower", "higher", "nearest"):
        ranks = {"lower": ranks.floor, "higher": ranks.ceil, "nearest": ranks.round}[interpolation]()
    below = ranks.long()
    out = ordered.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        weight = 0.5 if interpolation == "midpoint" else ranks - below._cast(x._node.dtype)
        out = out.lerp(ordered.gather(-1, ranks.ceil().long()), weight)
    if keepdim:
        out = out.reshape(*(1,) * x.ndim, -1) if dim is None or x.ndim == 0 else out.unsqueeze(d)
    out = out.movedim(-1, 0)
    return out.squeeze(0) if scalar else out


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

    def quantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
        """The `q`-quantiles (a number or a 1-D tensor, its dim first) along `dim` (all values by default);
        `interpolation` linear, lower, higher, midpoint or nearest, as torch's. NaN where a NaN is there."""
        return _quantile(self, q, dim, keepdim, interpolation, ignore_nan=False)

    def nanquantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
        """`quantile` of the non-NaN values (NaN where all are)."""
        return _quantile(self, q, dim, keepdim, interpolation, ignore_nan=True)

    def mode(self, dim: int = -1, keepdim: bool = False) -> ModeResult:
        """(values, indices) of the most frequent value along `dim` (the smallest of equally frequent ones) and
        its last index, as torch's; the gradient goes to that index. O(n^2) comparisons per row."""
        if self.ndim == 0:
            return ModeResult(self, iota(self, (1,), 0).reshape(()))
        d = self._dim(dim)
        moved = self.movedim(d, -1)
        ordered = moved.sort(-1).values
        counts = (ordered.unsqueeze(-1) == ordered.unsqueeze(-2)).sum(-1)
        value = ordered.gather(-1, counts.argmax(-1, keepdim=True))
        positions = iota(moved, moved.shape, moved.ndim - 1)
        indices = positions.where(moved == value, -1).amax(-1, keepdim=True).maximum(positions[..., :1])
        values = moved.gather(-1, indices)
        values, indices = values.movedim(-1, d), indices.movedim(-1, d)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return ModeResult(values, indices)
