"""Which function of a module runs: the one entry rule of irc.

A module may hold several functions: a `.mlir` file with more than one
`func.func`, or a `--grad` program (`@<name>` and `@<name>_grad`). Every
consumer (the hl reference, the stage 3-5 interpreter, `Lowering.execute`,
`irc run`'s inputs, compiled modules, packages) picks its function by this rule:

* a function asked for by name is that one (an error lists the functions when
  there is none of that name);
* else the **first** function of the module. `hl-autodiff` adds each
  `@<name>_grad` right after `@<name>`, so the user's function stays the entry
  and the gradient is the extra one.

It works on names, so the runtime uses it without xDSL; `irc.interpreters.reference.find_entry`
applies it to a `ModuleOp`.

    >>> entry_name(["f", "f_grad"])
    'f'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from irc.errors import IRCError

T = TypeVar("T")


def entry_name(
    names: Sequence[str], requested: str | None = None, owner: str = "the module", error: type[Exception] = IRCError
) -> str:
    """The entry among `names` (in module order): `requested`, else the first; `error` names `owner` otherwise."""
    if requested is None and names:
        return names[0]
    if requested is not None and requested in names:
        return requested
    listed = f" (its functions: {', '.join('@' + n for n in names)})" if names else ""
    asked = f" @{requested}" if requested is not None else ""
    raise error(f"{owner} has no function{asked}{listed}")


def select_entry(entries: Mapping[str, T], requested: str | None = None, owner: str = "the module") -> T:
    """The value of `entries` (function name -> compiled entry, in module order) that `entry_name` picks."""
    return entries[entry_name(list(entries), requested, owner)]
