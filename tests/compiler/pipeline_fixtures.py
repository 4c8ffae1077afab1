"""Passes and fakes for the compiler and driver tests, registered only inside the tests (by monkeypatching the registry)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, UnitAttr, f32
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from irc.compiler import pipeline, registry
from irc.compiler.registry import available_passes
from irc.ir.hl import OPS_BY_NAME

HL_TEXT = """\
func.func @f(%x: tensor<4x3xf32>, %y: tensor<3xf32>) -> tensor<4x3xf32> {
  %0 = hl.add %x, %y : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %1 = hl.relu %0 : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %1 : tensor<4x3xf32>
}
"""


def hl_oracle(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What HL_TEXT computes, in plain numpy."""
    return np.maximum(x + y, 0)


@dataclass(frozen=True)
class IdentityPass(ModulePass):
    name = "test-identity"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        pass


@dataclass(frozen=True)
class TouchPass(ModulePass):
    """Marks every func with a unit attribute (a visible change); `attr` is an option."""

    name = "test-touch"
    attr: str = "irc.touched"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for o in op.walk():
            if o.name == "func.func":
                o.attributes[self.attr] = UnitAttr()


@dataclass(frozen=True)
class BreakVerifierPass(ModulePass):
    """Gives the first hl.relu a wrong result type, so the IR no longer verifies."""

    name = "test-break-verifier"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        relu_op = OPS_BY_NAME["hl.relu"]
        relu = next(o for o in op.walk() if isinstance(o, relu_op))
        broken = relu_op.build(operands=[relu.operands[0]], result_types=[TensorType(f32, [7])])
        broken.location = relu.location
        Rewriter.replace_op(relu, broken)


@dataclass(frozen=True)
class CrashPass(ModulePass):
    name = "test-crash"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        raise ZeroDivisionError("boom")


@dataclass(frozen=True)
class InterruptPass(ModulePass):
    """Acts as if the user pressed Ctrl-C while it ran."""

    name = "test-interrupt"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        raise KeyboardInterrupt


TEST_PASSES = {
    cls.name: f"{__name__}:{cls.__name__}"
    for cls in (IdentityPass, TouchPass, BreakVerifierPass, CrashPass, InterruptPass)
}


def register(monkeypatch, mapping: dict[str, str] | None = None) -> None:
    """Register the test passes; `mapping` maps (stage) pass names to test pass names."""
    for name, spec in TEST_PASSES.items():
        monkeypatch.setitem(registry._PASSES, name, spec)
    for name, test_name in (mapping or {}).items():
        monkeypatch.setitem(registry._PASSES, name, TEST_PASSES[test_name])


def all_stage_passes() -> list[str]:
    return [p for s in pipeline.STAGES for p in s.passes]


class FakeCompiled:
    """Stands in for irc.targets' CompiledModule where a test only checks the driver's bookkeeping."""

    tir_text = "# fake TIR\n"
    source = "; fake LLVM IR\n"
    source_ext = "ll"

    def __call__(self, *arrays):
        raise AssertionError("the fake compiled module is not meant to run")


def fake_compile(monkeypatch) -> None:
    import irc.targets

    monkeypatch.setattr(irc.targets, "compile_loops", lambda module, target, step: FakeCompiled(), raising=False)


def real_pipeline_available() -> bool:
    try:
        for load in available_passes().values():
            load()
        return hasattr(importlib.import_module("irc.targets"), "compile_loops")
    except (ImportError, AttributeError):  # a pass still being written
        return False


@pytest.fixture
def hl_file(tmp_path):
    """HL_TEXT as `prog.mlir` in a fresh directory."""
    path = tmp_path / "prog.mlir"
    path.write_text(HL_TEXT)
    return path


@pytest.fixture
def identity_hl_opt(monkeypatch):
    """The hl-opt passes are the identity (tests that replace one of them, or need hl-opt as written)."""
    register(monkeypatch, {name: "test-identity" for name in pipeline.STAGES[1].passes})
