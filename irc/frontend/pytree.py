"""Nested tuples, lists and dicts of tensors ("pytrees", as JAX calls them), flattened and rebuilt.

`irc.jit` takes and returns them: `f(batch={"x": x, "y": y})` or `return loss, {"logits": out}`.
A structure is a hashable `Tree`, so it can be part of a jit signature; the values that are
not leaves (Python scalars, strings, None) live in the tree, as static parts of the signature.

    >>> leaves, tree = flatten(((1.0, x), {"w": w}), is_leaf=lambda v: isinstance(v, Tensor))
    >>> leaves == [x, w]; unflatten(tree, leaves) == ((1.0, x), {"w": w})
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

#: a tree node: ("leaf",), ("static", value, type), ("float", value.hex()), ("tuple" | "list", children) or
#: ("dict", keys, children)
Tree = tuple


def flatten(value: Any, is_leaf: Callable[[Any], bool], where: str = "value") -> tuple[list, Tree]:
    """The leaves of `value` in order (dicts in insertion order) and the tree that rebuilds it.

    Anything that is neither a leaf nor a tuple, list or dict must be hashable: it is kept in the
    tree as a static value; otherwise a TypeError names where it was found.
    """
    leaves: list = []

    def walk(v: Any, path: str) -> Tree:
        if is_leaf(v):
            leaves.append(v)
            return ("leaf",)
        if isinstance(v, (tuple, list)):
            kind = "tuple" if isinstance(v, tuple) else "list"
            return (kind, tuple(walk(x, f"{path}[{i}]") for i, x in enumerate(v)))
        if isinstance(v, dict):
            keys = tuple(v)
            return ("dict", keys, tuple(walk(v[k], f"{path}[{k!r}]") for k in keys))
        if not isinstance(v, Hashable):
            raise TypeError(f"{path}: a {type(v).__name__} is neither a tensor nor a tuple, list or dict of them")
        if type(v) is float:  # by its bits: -0.0 == 0.0, but `x * -0.0` is not `x * 0.0`; and a NaN equals
            return ("float", v.hex())  # nothing, not itself, so a tree holding one would never be found again
        return ("static", v, type(v))  # the type too: f(x, 1) and f(x, 1.0) promote differently

    tree = walk(value, where)
    return leaves, tree


def unflatten(tree: Tree, leaves: list) -> Any:
    """`value` back from `flatten(value)`'s tree, with `leaves` (in the same order) in place of its leaves."""
    it = iter(leaves)

    def build(t: Tree) -> Any:
        kind = t[0]
        if kind == "leaf":
            return next(it)
        if kind == "static":
            return t[1]
        if kind == "float":
            return float.fromhex(t[1])
        if kind == "dict":
            return {k: build(c) for k, c in zip(t[1], t[2])}
        children = [build(c) for c in t[1]]
        return tuple(children) if kind == "tuple" else children

    return build(tree)


def num_leaves(tree: Tree) -> int:
    kind = tree[0]
    if kind == "leaf":
        return 1
    if kind in ("static", "float"):
        return 0
    return sum(num_leaves(c) for c in tree[-1])
