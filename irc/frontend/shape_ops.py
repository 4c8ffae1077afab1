"""torch's shape ops as Tensor methods (the `ShapeOps` base of `Tensor`): `repeat`, `tile`,
`repeat_interleave`, `outer`/`ger`, `diag`, `diagonal`, `diag_embed`, `trace`, `movedim`/`moveaxis`,
`swapaxes`/`swapdims`, `unflatten`, `kron`, and the random `bernoulli` and `multinomial`.

Each is a composition of existing hl ops (reshape, broadcast, transpose, gather, select, concat,
reductions), so gradients, `irc.jit` and every target come for free.  The free functions (`einsum`,
`tensordot`, `meshgrid`, `eye`, `linspace`, ...) are in `factories.py`.

    >>> irc.tensor([1, 2]).repeat(2).tolist()
    [1, 2, 1, 2]
"""

from __future__ import annotations

import math

import numpy as np

from irc.errors import FrontendError
from irc.frontend.graph import apply, user_location
from irc.ir import hl


def _err(message: str) -> FrontendError:
    return FrontendError(message, user_location()[:2])


def iota(like, shape, dim: int, dtype: str = "i64"):
    """An index tensor of `shape` counting along `dim`, on `like`'s device."""
    return like._new(apply(hl.IotaOp, [], hl.tensor_type(tuple(shape), hl.DTYPES[dtype]), dim=dim))


def ints(sizes, name: str) -> tuple[int, ...]:
    """`sizes` given as ints or as one sequence, checked to be ints (torch's TypeError)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for s in sizes:
        if not isinstance(s, (int, np.integer)):
            raise TypeError(
                f"{name}(): argument 'dims' must be tuple of ints, but found element of type {type(s).__name__}"
            )
    return tuple(int(s) for s in sizes)


def _move_last_two(x, dim1: int, dim2: int):
    d1, d2 = x._dim(dim1), x._dim(dim2)
    if d1 == d2:
        raise _err(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [d for d in range(x.ndim) if d not in (d1, d2)]
    return x.permute(rest + [d1, d2])


class ShapeOps:
    """Methods of `Tensor` (its base class): they use only Tensor's own methods and hl ops."""

    def repeat(self, *sizes):
        """Tile the tensor `sizes[d]` times along each dim (extra leading sizes add dims), as torch."""
        sizes = ints(sizes, "repeat")
        if len(sizes) < self.ndim:
            raise _err("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
        if min(sizes, default=0) < 0:
            raise _err(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        grid = [v for n in shape for v in (1, n)]
        wide = [v for n, r in zip(shape, sizes) for v in (r, n)]
        return self.reshape(*grid).broadcast_to(wide).reshape(*(n * r for n, r in zip(shape, sizes)))

    def tile(self, dims):
        """`repeat` with `dims` padded by leading 1s to this tensor's rank, as torch."""
        dims = ints((dims,) if isinstance(dims, (int, np.integer)) else dims, "tile")
        return self.repeat(*((1,) * (self.ndim - len(dims)) + dims))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element `repeats` times in a row along `dim` (flattened when None); `repeats` an int or a
        one-element tensor (per-element counts are not supported: the shape would depend on values)."""
        if isinstance(repeats, ShapeOps):
            if repeats.numel() != 1:
                raise _err("repeat_interleave: a tensor of per-element repeats is not supported (give an int)")
            repeats = int(repeats.reshape(-1)[0].item())
        if repeats < 0:
            raise _err("repeats can not be negative")
        x = self.reshape(-1) if dim is None else self
        if x.ndim == 0:
            x = x.reshape(1)
        d = x._dim(0 if dim is None else dim)
        shape = list(x.shape)
        out = x.unsqueeze(d + 1).broadcast_to(shape[: d + 1] + [repeats] + shape[d + 1 :])
        result = out.reshape(*shape[:d], shape[d] * repeats, *shape[d + 1 :])
        if output_size is not None and output_size != result.shape[d]:
            raise _err(f"repeat_interleave: output_size {output_size} differs from {result.shape[d]}")
        return result

    def outer(self, vec2):
        """The outer product of two 1-D tensors (dtypes promote)."""
        vec2 = self._operand(vec2)
        if self.ndim != 1 or vec2.ndim != 1:
            raise _err(f"outer: expected 1-D tensors, got {self.ndim}-D and {vec2.ndim}-D")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1):
        """The `offset` diagonal of dims (`dim1`, `dim2`), appended as the last dim: a view, as torch's
        (`x.diagonal().fill_(0)`, `cov.diagonal().add_(eps)` change x)."""
        if self.ndim < 2:
            raise _err(f"diagonal: expected a tensor with at least 2 dims, got {self.ndim}")
        out = self._diagonal(offset, dim1, dim2)
        read = lambda b: b._diagonal(offset, dim1, dim2)  # noqa: E731
        return self._view_of(out, read, lambda b, v: b._with_diagonal(v, offset, dim1, dim2))

    def _with_diagonal(self, values, offset: int, dim1: int, dim2: int):
        """This tensor with its `offset` diagonal of (`dim1`, `dim2`) replaced by `values` (`diagonal`'s shape)."""
        d1, d2 = self._dim(dim1), self._dim(dim2)
        x = _move_last_two(self, d1, d2)
        a, b = x.shape[-2:]
        length = values.shape[-1]
        rows, cols = iota(x, (a, b), 0), iota(x, (a, b), 1)
        on_diagonal = cols - rows == offset
        # (…, a, 1): row i holds values[i] (offset >= 0); (…, 1, b): column j holds values[j] (offset < 0)
        room = a if offset >= 0 else b
        lead = values.shape[:-1]
        if room > length:
            pad = values.new_zeros(*lead, room - length)
            values = values._new(apply(hl.ConcatOp, [values._node, pad._node], dim=values.ndim - 1))
        placed = values.unsqueeze(-1 if offset >= 0 else -2)
        new = x._new(apply(hl.SelectOp, [on_diagonal._node, placed._cast(x._node.dtype)._node, x._node]))
        rest = [d for d in range(self.ndim) if d not in (d1, d2)]
        order = rest + [d1, d2]
        return new.permute([order.index(d) for d in range(self.ndim)])

    def _diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1):
        x = _move_last_two(self, dim1, dim2)
        a, b = x.shape[-2:]
        r0, c0 = max(-offset, 0), max(offset, 0)
        length = max(0, min(a - r0, b - c0))
        lead = x.shape[:-2]
        if length == 0:
            return x.new_zeros(*lead, 0)
        x = x.narrow(-2, r0, length).narrow(-1, c0, length)
        index = iota(x, (1,) * len(lead) + (length, 1), len(lead))
        # hl.gather broadcasts the index's size-1 dims: one (…, length, 1) index row for every batch entry
        return x._new(apply(hl.GatherOp, [x._node, index._node], dim=x.ndim - 1)).reshape(*lead, length)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1):
        """A (…, m, m) tensor (m = n + |offset|) with the last dim of this tensor on its `offset` diagonal."""
        if self.ndim == 0:
            raise _err("diag_embed: expected a tensor with at least 1 dim")
        n, lead = self.shape[-1], self.shape[:-1]
        m = n + abs(offset)
        zeros = self.new_zeros(*lead, abs(offset))
        rows, cols = iota(self, (m, m), 0), iota(self, (m, m), 1)
        padded = self._new(apply(hl.ConcatOp, [self._node, zeros._node], dim=self.ndim - 1)) if offset else self
        # (…, m, 1): row i holds x[i] (offset >= 0); (…, 1, m): column j holds x[j] (offset < 0)
        values = padded.unsqueeze(-1 if offset >= 0 else -2)
        on_diagonal = cols - rows == offset
        out = self._new(apply(hl.SelectOp, [on_diagonal._node, values._node, self.new_zeros(())._node]))
        rank = out.ndim
        d1, d2 = dim1 % rank, dim2 % rank
        if d1 == d2:
            raise _err(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        if (d1, d2) == (rank - 2, rank - 1):
            return out
        return out.movedim([rank - 2, rank - 1], [d1, d2])

    def diag(self, diagonal: int = 0):
        """A 1-D tensor: the square matrix with it on the `diagonal`; a 2-D one: that diagonal, as torch."""
        if self.ndim == 1:
            return self.diag_embed(diagonal)
        if self.ndim == 2:
            return self.diagonal(diagonal)
        raise _err("diag(): Supports 1D or 2D tensors. Got " + f"{self.ndim}D")

    def diagflat(self, offset: int = 0):
        """The flattened tensor on the `offset` diagonal of a square matrix."""
        return self.reshape(-1).diag_embed(offset)

    def trace(self):
        """The sum of the main diagonal of a matrix (integers sum in int64)."""
        if self.ndim != 2:
            raise _err("trace: expected a matrix, but got tensor with dim " + str(self.ndim))
        return self.diagonal().sum()

    def movedim(self, source, destination):
        """Dims `source` moved to `destination` (ints or sequences), the others keeping their order."""
        src = [source] if isinstance(source, (int, np.integer)) else list(source)
        dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
        if len(src) != len(dst):
            raise _err(
                "movedim: Invalid source or destination dims: source "
                f"({src} dims) should contain the same number of dims as destination ({dst} dims)"
            )
        src, dst = [self._dim(d) for d in src], [self._dim(d) for d in dst]
        if len(set(src)) < len(src) or len(set(dst)) < len(dst):
            raise _err(f"movedim: repeated dim in `{'source' if len(set(src)) < len(src) else 'destination'}`")
        perm = [-1] * self.ndim
        for s, d in zip(src, dst):
            perm[d] = s
        rest = iter(d for d in range(self.ndim) if d not in src)
        return self.permute([p if p >= 0 else next(rest) for p in perm])

    def swapaxes(self, axis0: int, axis1: int):
        return self.transpose(axis0, axis1)

    def unflatten(self, dim: int, sizes):
        """Dim `dim` split into `sizes` (one may be -1), as torch."""
        d = self._dim(dim)
        sizes = list(ints(sizes, "unflatten"))
        if not sizes:
            raise _err("unflatten: sizes must be non-empty")
        known = math.prod(s for s in sizes if s != -1)
        if -1 in sizes:
            sizes[sizes.index(-1)] = self.shape[d] // known if known else 0
        if math.prod(sizes) != self.shape[d]:
            raise _err(
                f"unflatten: Provided sizes {list(ints(sizes, 'unflatten'))} don't multiply up to the size of dim "
                f"{dim} ({self.shape[d]}) in the input tensor"
            )
        return self.reshape(*self.shape[:d], *sizes, *self.shape[d + 1 :])

    def kron(self, other):
        """The Kronecker product (ranks padded by leading 1s)."""
        other = self._operand(other)
        rank = max(self.ndim, other.ndim)
        a = self.reshape(*((1,) * (rank - self.ndim) + self.shape)) if self.ndim < rank else self
        b = other.reshape(*((1,) * (rank - other.ndim) + other.shape)) if other.ndim < rank else other
        a2 = a.reshape(*[v for n in a.shape for v in (n, 1)])
        b2 = b.reshape(*[v for n in b.shape for v in (1, n)])
        return (a2 * b2).reshape(*(m * n for m, n in zip(a.shape, b.shape)))

    def bernoulli(self, p=None, *, generator=None):
        """1 with probability `self` (or `p`), else 0, in this tensor's dtype: U[0, 1) draws (`uniform_`,
        irc's generator; inside irc.jit new numbers on every call) below the probability.  No gradient."""
        if generator is not None:
            raise _err("bernoulli: generator= is not supported (irc.manual_seed seeds irc's generator)")
        if not self.is_floating_point():
            raise _err(f"bernoulli only supports floating-point dtypes, got {self.dtype}")
        prob = self if p is None else p if isinstance(p, ShapeOps) else self.new_full((), float(p))
        draw = self.detach().new_zeros(self.shape).uniform_()
        return (draw < prob.detach()).to(self.dtype)

    ger = outer
    moveaxis = movedim
    swapdims = swapaxes
