"""torch's free functions beyond `tensor.py`: `einsum`, `tensordot`, `meshgrid`, `cartesian_prod`,
`atleast_1d/2d/3d`, `cdist`, the stacks `hstack`/`vstack`/`dstack`/`column_stack`/`row_stack`,
`broadcast_tensors`/`broadcast_shapes`, `isin`, the dtype rules `result_type`/`promote_types`/`can_cast`,
and the factories `eye`, `linspace`, `logspace`, `randint`, `randint_like`, `tril_indices`,
`triu_indices` (the Tensor methods are in `shape_ops.py` and `sorting.py`).  Compositions of existing hl ops: `einsum` takes diagonals for repeated letters, sums
letters no one else needs, and contracts the operands pairwise with one batched matmul each.

    >>> irc.einsum("ij,jk->ik", irc.ones(2, 3), irc.ones(3, 4)).shape
    (2, 4)
"""

from __future__ import annotations

import math

import numpy as np

from irc.errors import FrontendError
from irc.frontend.graph import user_location
from irc.frontend.shape_ops import iota
from irc.frontend.tensor import (
    _SCALAR_NAMES,
    Tensor,
    _check_device,
    _is_float,
    _promote,
    _shape_arg,
    as_tensor,
    cat,
    default_rng,
    dtype_short,
    full,
    matmul,
    stack,
    tensor,
)
from irc.ir import hl


def _err(message: str) -> FrontendError:
    return FrontendError(message, user_location()[:2])


def _atleast(rank: int, tensors):
    """torch's atleast_Nd: 0-d -> (1,)*N, 1-D (n) -> (1, n) or (1, n, 1), 2-D (a, b) -> (a, b, 1)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_atleast(rank, [t]) for t in tensors[0])
    out = []
    for t in tensors:
        t = as_tensor(t)
        if t.ndim < rank:
            t = t.reshape(*{0: (1,) * rank, 1: (1, -1, 1)[:rank] if rank > 1 else (-1,), 2: (*t.shape, 1)}[t.ndim])
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*tensors):
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    return _atleast(3, tensors)


def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Grids of 0-d or 1-D tensors, `indexing` "ij" (the default, as torch) or "xy" (first two swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    tensors = [as_tensor(t) for t in tensors]
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise _err(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if any(t.ndim > 1 for t in tensors):
        raise _err("torch.meshgrid: Expected 0D or 1D tensor in the tensor list")
    if len({t.dtype for t in tensors}) > 1:
        raise _err("meshgrid expects all tensors to have the same dtype")
    flat = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(flat) >= 2
    shape = [t.shape[0] for t in flat]
    grids = []
    for i, t in enumerate(flat):
        view = [1] * len(flat)
        view[i] = -1
        grids.append(t.reshape(*view).broadcast_to(shape))
    if swap:
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def cartesian_prod(*tensors) -> Tensor:
    """All tuples of one element of each 1-D tensor, as rows (one tensor: itself)."""
    tensors = [as_tensor(t) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def tensordot(a, b, dims=2) -> Tensor:
    """Contract the last `dims` dims of `a` with the first of `b`, or the dim lists `dims = (da, db)`."""
    a, b = as_tensor(a), as_tensor(b)
    if a.dtype != b.dtype:
        raise _err("both inputs should have same dtype")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise _err(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise _err(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
    if len(da) != len(db):
        raise _err("both dimension lists should have same length")
    da, db = [a._dim(d) for d in da], [b._dim(d) for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y] and 1 not in (a.shape[x], b.shape[y]):
            raise _err(
                f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and "
                f"second has size {b.shape[y]} in dim {y}"
            )
        if a.shape[x] == 1 and b.shape[y] > 1:  # a size-1 dim broadcasts: the other side sums over it
            b = b.sum(y, keepdim=True)
        elif b.shape[y] == 1 and a.shape[x] > 1:
            a = a.sum(x, keepdim=True)
    keep_a = [d for d in range(a.ndim) if d not in da]
    keep_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    left = a.permute(keep_a + da).reshape(math.prod(a.shape[d] for d in keep_a), k)
    right = b.permute(db + keep_b).reshape(k, math.prod(b.shape[d] for d in keep_b))
    return matmul(left, right).reshape(*(a.shape[d] for d in keep_a), *(b.shape[d] for d in keep_b))


def einsum(equation: str, *operands) -> Tensor:
    """torch.einsum: explicit (`->`) or implicit output, `...`, repeated indices (diagonals); pairwise
    contractions are matmuls (batch, free and contracted letters grouped by transpose and reshape)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ops = [as_tensor(t) for t in operands]
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ops):
        more = "more" if len(ops) > len(terms) else "fewer"
        raise _err(f"einsum(): {more} operands were provided than specified in the equation")
    # '...' becomes letters of their own (non-ASCII placeholders, aligned from the right)
    ell_rank = 0
    for term, t in zip(terms, ops):
        if "..." in term:
            ell_rank = max(ell_rank, t.ndim - (len(term) - 3))
    ell = [chr(0x100 + i) for i in range(ell_rank)]
    subs = []
    for i, (term, t) in enumerate(zip(terms, ops)):
        letters = list(term.replace("...", ""))
        for c in letters:
            if not c.isalpha():
                raise _err(f"einsum(): invalid subscript given at index {eq.index(c)} in the equation string, "
                           "subscripts must be in [a-zA-Z]")  # fmt: skip
        if "..." in term:
            n = t.ndim - len(letters)
            if n < 0:
                raise _err(f"einsum(): the number of subscripts in the equation ({len(letters)}) is more than "
                           f"the number of dimensions ({t.ndim}) for operand {i}")  # fmt: skip
            head, _, tail = term.partition("...")
            letters = list(head) + ell[ell_rank - n :] + list(tail)
        elif len(letters) != t.ndim:
            raise _err(f"einsum(): the number of subscripts in the equation ({len(letters)}) does not match the "
                       f"number of dimensions ({t.ndim}) for operand {i} and no ellipsis was given")  # fmt: skip
        subs.append(letters)
    if arrow:
        head, dots, tail = rhs.partition("...")
        out = list(head) + (ell if dots else []) + list(tail)
        for c in head + tail:
            if not any(c in s for s in subs):
                raise _err(f"einsum(): output subscript {c} does not appear in the equation for any input operand")
        if len(set(out)) < len(out):
            raise _err("einsum(): output subscript appears more than once in the output")
    else:
        counts: dict[str, int] = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    sizes: dict[str, int] = {}
    for s, t in zip(subs, ops):
        for c, n in zip(s, t.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise _err(f"einsum(): operands do not broadcast with remapped shapes (original->remapped): "
                           f"subscript {c} has size {n} for an operand and {sizes[c]} for another")  # fmt: skip
            sizes[c] = max(sizes.get(c, 1), n)
    terms_t: list[tuple[Tensor, list[str]]] = []
    for s, t in zip(subs, ops):
        s = list(s)
        while len(set(s)) < len(s):  # a repeated letter: take the diagonal
            c = next(c for c in s if s.count(c) > 1)
            i, j = s.index(c), s.index(c, s.index(c) + 1)
            if t.shape[i] != t.shape[j]:
                raise _err(f"einsum(): subscript {c} is repeated for operand {len(terms_t)} but the sizes don't "
                           f"match, {t.shape[i]} != {t.shape[j]}")  # fmt: skip
            t = t.diagonal(0, i, j)
            s = [x for k, x in enumerate(s) if k not in (i, j)] + [c]
        terms_t.append((t, s))
    return _contract(terms_t, out, sizes)


def _sum_letters(t: Tensor, s: list[str], gone: set[str]) -> tuple[Tensor, list[str]]:
    dims = [i for i, c in enumerate(s) if c in gone]
    if dims:
        t = t.sum(dims)
        s = [c for c in s if c not in gone]
    return t, s


def _contract(terms: list[tuple[Tensor, list[str]]], out: list[str], sizes: dict[str, int]) -> Tensor:
    def needed(k: int) -> set[str]:
        return set(out).union(*(set(s) for _, s in terms[k + 1 :]))

    t, s = terms[0]
    t, s = _sum_letters(t, s, set(s) - needed(0))
    for k in range(1, len(terms)):
        u, r = terms[k]
        keep = needed(k)
        u, r = _sum_letters(u, r, set(r) - keep - set(s))
        batch = [c for c in s if c in r and c in keep]
        contracted = [c for c in s if c in r and c not in keep]
        free_a = [c for c in s if c not in r]
        free_b = [c for c in r if c not in s]
        if t._node.dtype != u._node.dtype:
            if contracted:  # torch contracts through bmm, which takes one dtype; products without a sum promote
                raise _err(
                    f"expected scalar type {_SCALAR_NAMES[t._node.dtype]} but found {_SCALAR_NAMES[u._node.dtype]}"
                )
            common = _promote(t._node.dtype, u._node.dtype)
            t, u = t._cast(common), u._cast(common)
        t = t.permute([s.index(c) for c in batch + free_a + contracted])
        u = u.permute([r.index(c) for c in batch + contracted + free_b])
        t = t.broadcast_to([sizes[c] if c in batch or c in contracted else t.shape[i]
                            for i, c in enumerate(batch + free_a + contracted)])  # fmt: skip
        u = u.broadcast_to([sizes[c] if c in batch or c in contracted else u.shape[i]
                            for i, c in enumerate(batch + contracted + free_b)])  # fmt: skip
        nb, nc = math.prod(sizes[c] for c in batch), math.prod(sizes[c] for c in contracted)
        fa_shape = [t.shape[len(batch) + i] for i in range(len(free_a))]
        fb_shape = [u.shape[len(batch) + len(contracted) + i] for i in range(len(free_b))]
        na, nf = math.prod(fa_shape), math.prod(fb_shape)
        if nb != 1:
            prod = matmul(t.reshape(nb, na, nc), u.reshape(nb, nc, nf))
        else:  # a plain matrix product (llvm schedules a batch of one 50x slower after a transpose)
            prod = matmul(t.reshape(na, nc), u.reshape(nc, nf))
        t = prod.reshape(*(sizes[c] for c in batch), *fa_shape, *fb_shape)
        s = batch + free_a + free_b
    t, s = _sum_letters(t, s, set(s) - set(out))
    shape = [sizes[c] for c in out]
    t = t.permute([s.index(c) for c in out]) if s else t
    return t.broadcast_to(shape) if list(t.shape) != shape else t


def cdist(x1, x2, p: float = 2.0, compute_mode=None) -> Tensor:
    """Pairwise p-norm distances between the rows of (…, P, M) and (…, R, M): (…, P, R)."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.ndim < 2 or x2.ndim < 2:
        raise _err(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise _err(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if not x1.is_floating_point():
        raise _err(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}")
    if p < 0:
        raise _err("cdist only supports non-negative p values")
    diff = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
    if p == 0:  # a count: its gradient is zero (as torch's)
        return (diff != 0).to(x1.dtype).sum(-1) + diff.sum(-1) * 0.0
    if math.isinf(p):
        return diff.amax(-1)
    if p == 1:
        return diff.sum(-1)
    if p == 2:
        return (diff * diff).sum(-1).sqrt()
    return diff.pow(p).sum(-1).pow(1.0 / p)


def _tensors(name: str, tensors) -> list[Tensor]:
    if not tensors:
        raise _err(f"{name} expects a non-empty TensorList")
    return [as_tensor(t) for t in tensors]


def hstack(tensors) -> Tensor:
    """The tensors joined along dim 1 (dim 0 for 1-D ones), after `atleast_1d`, as torch's."""
    parts = [atleast_1d(t) for t in _tensors("hstack", tensors)]
    return cat(parts, 0 if parts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """The tensors joined along dim 0, after `atleast_2d` (a 1-D tensor is a row), as torch's."""
    return cat([atleast_2d(t) for t in _tensors("vstack", tensors)], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """The tensors joined along dim 2, after `atleast_3d`, as torch's."""
    return cat([atleast_3d(t) for t in _tensors("dstack", tensors)], 2)


def column_stack(tensors) -> Tensor:
    """The tensors as columns: 0-d and 1-D ones become (n, 1) columns, the rest join along dim 1."""
    parts = _tensors("column_stack", tensors)
    return cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in parts], 1)


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    """The shape that `shapes` (tuples or ints) broadcast to, as torch's (a tuple: irc has no torch.Size)."""
    shapes = [(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]
    out = [1] * max((len(s) for s in shapes), default=0)
    for index, shape in enumerate(shapes):
        for k in range(1, len(shape) + 1):
            n = shape[-k]
            if n != out[-k] and 1 not in (n, out[-k]):
                raise _err(
                    f"Attempting to broadcast a dimension of length {n} at {-k}! Mismatching argument at index "
                    f"{index} had {shape}; but expected shape should be broadcastable to {out}"
                )
            out[-k] = n if out[-k] == 1 else out[-k]
    return tuple(out)


def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    """The tensors broadcast to one shape (torch's message when they cannot be)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    tensors = [as_tensor(t) for t in tensors]
    shape: list[int] = []
    for t in tensors:
        shape = [1] * (t.ndim - len(shape)) + shape
        for k in range(1, t.ndim + 1):
            n = t.shape[-k]
            if n != shape[-k] and 1 not in (n, shape[-k]):
                raise _err(f"The size of tensor a ({shape[-k]}) must match the size of tensor b ({n}) at "
                           f"non-singleton dimension {len(shape) - k}")  # fmt: skip
            shape[-k] = n if shape[-k] == 1 else shape[-k]
    return tuple(t if tuple(t.shape) == tuple(shape) else t.broadcast_to(shape) for t in tensors)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element is among `test_elements` (either may be a number), bool of `elements`'s shape;
    `invert=True` negates. Compares every pair: O(elements * test_elements)."""
    reference = elements if isinstance(elements, Tensor) else as_tensor(test_elements)
    elements = elements if isinstance(elements, Tensor) else reference._operand(elements)
    tests = as_tensor(test_elements).reshape(-1)
    found = (elements.unsqueeze(-1) == tests).any(-1)
    return ~found if invert else found


def _wrapped_dtype(value) -> str:
    """The dtype a Python number takes in torch's promotion: bool, int64 or the default float32."""
    if isinstance(value, (bool, np.bool_)):
        return "i1"
    return "i64" if isinstance(value, (int, np.integer)) else "f32"


def _combine(higher: str | None, lower: str | None) -> str | None:
    """torch's combine_categories: `lower` (a later group) counts only where its category is higher."""
    if higher is None or lower is None:
        return higher or lower
    if _is_float(higher):
        return higher
    return _promote(higher, lower) if higher == "i1" or _is_float(lower) else higher


def result_type(tensor1, tensor2) -> np.dtype:
    """The dtype torch's arithmetic gives these operands (tensors or numbers): tensors with dims first, then
    0-d tensors, then numbers (bool, int64, float32), a later group counting only where its category
    (bool < int < float) is higher."""
    groups: list[str | None] = [None, None, None]  # dtypes of: tensors with dims, 0-d tensors, numbers
    for x in (tensor1, tensor2):
        if isinstance(x, Tensor):
            group, short = (0 if x.ndim else 1), x._node.dtype
        else:
            group, short = 2, _wrapped_dtype(x)
        groups[group] = short if groups[group] is None else _promote(groups[group], short)
    return hl.NUMPY_DTYPES[_combine(groups[0], _combine(groups[1], groups[2]))]


def promote_types(type1, type2) -> np.dtype:
    """The smallest dtype both convert to without losing their category, as torch's (float16 with bfloat16
    is float32)."""
    return hl.NUMPY_DTYPES[_promote(dtype_short(type1), dtype_short(type2))]


def can_cast(from_, to) -> bool:
    """Whether torch's type promotion allows the cast: not float to an integer, nor a number to bool."""
    a, b = dtype_short(from_), dtype_short(to)
    return not (_is_float(a) and not _is_float(b)) and not (a != "i1" and b == "i1")


def _dtype(dtype, default: str) -> str:
    return default if dtype is None else dtype_short(dtype)


def eye(n: int, m: int | None = None, *, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """The (n, m) identity matrix (m = n by default), float32 unless `dtype`."""
    m = n if m is None else m
    if n < 0 or m < 0:
        raise _err(f"{'n' if n < 0 else 'm'} must be greater or equal to 0, got {n if n < 0 else m}")
    like = full((), 0, device=_check_device(device))
    ones = iota(like, (n, m), 0) == iota(like, (n, m), 1)
    return ones._cast(_dtype(dtype, "f32")).requires_grad_(requires_grad)


def _number(v, name: str) -> float:
    if isinstance(v, Tensor):
        if v.ndim:
            raise _err(f"linspace only supports 0-dimensional start and end tensors, but got {name} with "
                       f"{v.ndim} dimension(s).")  # fmt: skip
        return v.item()
    return v


def linspace(start, end, steps: int, *, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """`steps` points from `start` to `end`, torch's formula (the second half counted back from `end`)."""
    start, end = _number(start, "start"), _number(end, "end")
    if not isinstance(steps, (int, np.integer)):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise _err("number of steps must be non-negative")
    short = _dtype(dtype, "f32")
    i = np.arange(steps, dtype=np.float64)
    if steps == 1:
        values = np.array([start], dtype=np.float64)
    else:
        step = (end - start) / (steps - 1)
        values = np.where(i < steps // 2, start + step * i, end - step * (steps - 1 - i))
    if short in ("i32", "i64"):
        values = np.trunc(values)
    return tensor(values.astype(hl.NUMPY_DTYPES[short]), device=device, requires_grad=requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device: str = "cpu",
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    """`base ** linspace(start, end, steps)`."""
    exps = linspace(start, end, steps, dtype="float64").numpy()
    short = _dtype(dtype, "f32")
    values = np.power(float(base), exps)
    if short in ("i32", "i64"):
        values = np.trunc(values)
    return tensor(values.astype(hl.NUMPY_DTYPES[short]), device=device, requires_grad=requires_grad)


def randint(*args, size=None, generator=None, dtype=None, device: str = "cpu", requires_grad: bool = False):
    """Integers uniform in [low, high): `randint(high, size)` or `randint(low, high, size)`, int64."""
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint() takes (high, size) or (low, high, size)")
    if not low < high:
        raise _err(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    rng = default_rng() if generator is None else generator
    values = rng.integers(int(low), int(high), size=tuple(_shape_arg((size,))))
    short = _dtype(dtype, "i64")
    return tensor(values.astype(hl.NUMPY_DTYPES[short]), device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low=0, high=None, *, dtype=None, device=None, requires_grad: bool = False):
    """`randint` of `input`'s shape, dtype and device unless given (`randint_like(x, high)` too)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype,
                   device=device or input.device, requires_grad=requires_grad)  # fmt: skip


def _triangle_indices(lower: bool, row: int, col: int, offset: int, dtype, device) -> Tensor:
    if row < 0 or col < 0:
        raise _err(f"{'row' if row < 0 else 'col'} must be non-negative, got{row if row < 0 else col}")
    if lower:
        r, c = np.tril_indices(row, offset, col)
    else:
        r, c = np.triu_indices(row, offset, col)
    short = _dtype(dtype, "i64")
    if short not in ("i32", "i64"):
        raise _err(f"\"{'tril' if lower else 'triu'}_indices\" not implemented for '{hl.NUMPY_DTYPES[short]}'")
    return tensor(np.stack([r, c]).astype(hl.NUMPY_DTYPES[short]).reshape(2, -1), device=device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device: str = "cpu") -> Tensor:
    """The (2, N) row and column indices of the lower triangle of a (row, col) matrix, row by row."""
    return _triangle_indices(True, row, col, offset, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device: str = "cpu") -> Tensor:
    """The (2, N) row and column indices of the upper triangle of a (row, col) matrix, row by row."""
    return _triangle_indices(False, row, col, offset, dtype, device)


__all__ = [
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "can_cast", "cartesian_prod",
    "cdist", "column_stack", "dstack", "einsum", "eye", "hstack", "isin", "linspace", "logspace", "meshgrid",
    "promote_types", "randint", "randint_like", "result_type", "row_stack", "tensordot", "tril_indices",
    "triu_indices", "vstack",
]  # fmt: skip
