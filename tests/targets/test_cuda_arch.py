"""A cuda target without an arch (`irc.jit(target="cuda")`, `{"kind": "cuda"}`, eager cuda tensors)
takes the arch of GPU device 0 (`irc.targets.cuda.device_arch`), and is a clear error without a GPU.

The GPU is simulated by monkeypatching the device query, so these run everywhere."""

import re

import numpy as np
import pytest

import irc
from irc.compiler.pipeline import Pipeline
from irc.errors import CompileError, IRCError
from irc.frontend.realize import eager_target
from irc.frontend.tracing import trace
from irc.ir import parse_module
from irc.targets import compile_loops, kinds
from irc.targets import cuda as cuda_target
from irc.targets.cuda import cubin, device_arch
from tests.e2e.test_dtypes_llvm import arguments, program
from tests.targets import loops_modules

NO_GPU = "target cuda needs an arch, e.g. {'kind': 'cuda', 'arch': 'sm_90'}: no GPU found to take it from"


@pytest.fixture
def no_gpu(monkeypatch):
    def query():
        raise IRCError("no CUDA device found")

    monkeypatch.setattr(cuda_target, "compute_capability", query)


@pytest.fixture
def gpu_sm86(monkeypatch):
    monkeypatch.setattr(cuda_target, "compute_capability", lambda: "sm_86")


@pytest.mark.parametrize("target", ["cuda", {"kind": "cuda"}], ids=["str", "dict"])
def test_jit_without_arch_and_gpu_is_a_clear_error(no_gpu, target):
    f = irc.jit(lambda x: x * 2, target=target)
    with pytest.raises(CompileError, match=re.escape(NO_GPU)):
        f(np.ones(3, np.float32))
    with pytest.raises(CompileError, match=re.escape(NO_GPU)):
        eager_target("cuda")
    with pytest.raises(CompileError, match=re.escape(NO_GPU)):
        compile_loops(parse_module(loops_modules.relu_fma(64)), target)


def test_the_real_device_query_without_a_gpu():
    try:
        arch = device_arch()
    except CompileError as e:
        assert str(e) == NO_GPU
    else:
        assert re.fullmatch(r"sm_\d+", arch)  # a machine with a GPU


@pytest.mark.parametrize("target", ["cuda", {"kind": "cuda"}], ids=["str", "dict"])
def test_jit_without_arch_takes_the_arch_of_device_0(gpu_sm86, target):
    assert kinds.target(target).resolve().spec == {"kind": "cuda", "arch": "sm_86"}
    lowering = irc.jit(lambda x: x * 2, target=target).lower(np.ones(3, np.float32))
    assert lowering.compiled.arch == "sm_86"
    assert eager_target("cuda") == {"kind": "cuda", "arch": "sm_86"}
    assert compile_loops(parse_module(loops_modules.relu_fma(64)), target).arch == "sm_86"
    assert Pipeline(target).run(trace(lambda x: x * 2, [irc.Spec((3,), "float32")])).compiled.arch == "sm_86"


def test_other_targets_are_left_alone(no_gpu):
    for target in ("llvm", "opencl", {"kind": "cuda", "arch": "sm_90"}, {"kind": "llvm", "mcpu": "generic"}):
        assert kinds.target(target).resolve().spec == target


def test_dtype_program_compiles_for_cuda():
    """floor_divide (fmod, floor, copysign) and the bool/int ops build for a GPU (nvcc or NVRTC)."""
    lowering = irc.jit(program, target={"kind": "cuda", "arch": "sm_90"}).lower(*(t.numpy() for t in arguments(irc)))
    source = lowering.stages["target"]
    assert "fmodf" in source and "floorf" in source
    try:
        binary = cubin(source, "sm_90")
    except IRCError as e:
        pytest.skip(f"no CUDA compiler: {e}")
    assert binary
