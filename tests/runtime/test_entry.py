"""The entry rule (irc.runtime.entry): the function asked for, else the first one."""

from __future__ import annotations

import pytest

from irc.errors import IRCError
from irc.interpreters.reference import find_entry
from irc.ir import parse_module
from irc.runtime.entry import entry_name, select_entry


def test_first_function_unless_one_is_named():
    assert entry_name(["f", "f_grad"]) == "f"
    assert entry_name(["f", "f_grad"], "f_grad") == "f_grad"
    assert select_entry({"f": 1, "g": 2}) == 1
    assert select_entry({"f": 1, "g": 2}, "g") == 2


def test_missing_function_lists_the_functions():
    with pytest.raises(IRCError, match=r"model.ircpkg has no function @h \(its functions: @f, @g\)"):
        select_entry({"f": 1, "g": 2}, "h", "model.ircpkg")
    with pytest.raises(KeyError, match="the module has no function"):
        entry_name([], error=KeyError)


def test_find_entry_skips_declarations():
    module = parse_module(
        """
func.func private @helper(tensor<2xf32>) -> tensor<2xf32>
func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  func.return %x : tensor<2xf32>
}
func.func @g(%x: tensor<3xf32>) -> tensor<3xf32> {
  func.return %x : tensor<3xf32>
}
"""
    )
    assert find_entry(module).sym_name.data == "f"
    assert find_entry(module, "g").sym_name.data == "g"
    with pytest.raises(IRCError, match=r"no function @helper \(its functions: @f, @g\)"):
        find_entry(module, "helper")
