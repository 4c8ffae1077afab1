"""Every public name of irc's PyTorch-style API is documented (docs/torch-api.md, docs/nn.md): the pages
are checked against the code, so they cannot fall behind it."""

import pathlib
import re

import pytest

import irc
import irc.nn
import irc.nn.functional
import irc.nn.utils
import irc.optim
import irc.optim.lr_scheduler
import irc.utils.data

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
TEXT = (DOCS / "torch-api.md").read_text() + (DOCS / "nn.md").read_text()
#: the words inside `code spans` (which may wrap lines) of the two pages
WORDS = {word for span in re.findall(r"`([^`]*)`", TEXT) for word in re.findall(r"\w+", span)}


def _public(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:  # a module of functions: those it defines
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        ]
    return [n for n in names if n not in ("functional", "init", "utils")]


MODULES = [irc, irc.nn, irc.nn.functional, irc.nn.utils, irc.optim, irc.optim.lr_scheduler, irc.utils.data]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_name_is_documented(module):
    undocumented = [n for n in _public(module) if n not in WORDS]
    assert not undocumented, f"{module.__name__}: not in docs/torch-api.md or docs/nn.md: {undocumented}"


def test_the_check_sees_a_missing_name():
    assert "no_such_name" not in WORDS and "Optimizer" in TEXT  # "Optimizer state ..." in prose does not count
    assert len(_public(irc)) > 50 and len(_public(irc.nn.functional)) > 20
