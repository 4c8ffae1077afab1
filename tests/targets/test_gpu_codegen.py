"""GPU code generation without a GPU: plans, schedules, CUDA source through nvcc, clear errors."""

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from irc.errors import CompileError, InputError, IRCError
from irc.ir import parse_module
from irc.runtime.plan import BufferSpec, ExecutionPlan, KernelLaunch, Scalar
from irc.targets import compile_loops, target
from irc.targets.cuda import fix_vector_alignment, nvcc_cubin, nvrtc_available, nvrtc_cubin
from tests.targets import loops_modules
from tests.targets.gpu_programs import PROGRAMS, loops_module

CUDA = {"kind": "cuda", "arch": "sm_90"}


def test_cuda_needs_an_arch():
    with pytest.raises(CompileError, match="explicit GPU architecture"):
        target("cuda").tvm_target()
    with pytest.raises(CompileError, match="explicit GPU architecture"):
        target({"kind": "cuda"}).tvm_target()
    assert str(target(CUDA).tvm_target().attrs["arch"]) == "sm_90"


def test_compiled_interface_and_plan():
    mod = compile_loops(loops_module("mlp"), CUDA)
    assert mod.source_ext == "cu" and "__global__" in mod.source
    plan = mod.plan
    assert plan.inputs == ["x", "w1", "b1", "w2", "b2"] and plan.outputs == ["out"]
    kinds = {b.id: b.kind for b in plan.buffers}
    for launch in plan.launches:  # (TVM gives a one-thread kernel, such as a rank-0 fill, no bound)
        bounds = f"__launch_bounds__({np.prod(launch.block)}) " if np.prod(launch.block) > 1 else ""
        assert f"void {bounds}{launch.name}(" in mod.source
        for arg in launch.args:
            assert isinstance(arg, Scalar) or arg in kinds
    # every input is read and the output written by some kernel
    used = {a for launch in plan.launches for a in launch.args}
    assert set(plan.inputs + plan.outputs) <= used


def test_plan_json_round_trip():
    plan = ExecutionPlan(
        "f",
        ["x"],
        ["y"],
        [
            BufferSpec("x", (4, 3), "float32", "input"),
            BufferSpec("y", (4,), "float32", "output"),
            BufferSpec("c", (3,), "float64", "const"),
            BufferSpec("t", (12,), "float32", "temp"),
            BufferSpec("t@4", (2, 2), "float32", "temp", base="t", offset=4),
        ],
        [
            KernelLaunch("f_k0", ("x", "c", "t@4", Scalar(3, "int32")), (2, 1, 1), (64, 1, 1), 128, writes=(2,)),
            KernelLaunch("f_k1", ("y", "t"), (1, 1, 1), (4, 1, 1)),
        ],
        {"c": np.array([1.5, -2.0, 3.25])},
    )
    text = plan.to_json()
    again = ExecutionPlan.from_json(text)
    assert again.to_json() == text
    assert again.buffers == plan.buffers and again.launches == plan.launches
    np.testing.assert_array_equal(again.constants["c"], plan.constants["c"])
    assert again.constants["c"].dtype == np.float64


def test_a_plan_written_before_kernels_recorded_their_writes_reads_as_all_written():
    text = (
        '{"entry": "f", "inputs": [], "outputs": ["y"], "buffers": [{"id": "y", "shape": [4], "dtype": "float32",'
        ' "kind": "output", "base": null, "offset": 0}], "launches": [{"name": "f_k0", "args": ["y"],'
        ' "grid": [1, 1, 1], "block": [4, 1, 1], "shared_bytes": 0}], "constants": {}}'
    )
    (launch,) = ExecutionPlan.from_json(text).launches
    assert launch.writes is None and list(launch.accesses()) == [("y", True)]


@pytest.mark.parametrize("kind", ["cuda", "opencl"])
@pytest.mark.parametrize("name", PROGRAMS)
def test_every_launch_knows_what_it_writes(name, kind):
    """Each kernel's writes, as found in its lowered TIR: something, never an input or a constant, and
    every output by some kernel (tests/targets/test_opencl.py runs kernels reordered by them)."""
    plan = compile_loops(loops_module(name), CUDA if kind == "cuda" else kind).plan
    kinds = {b.id: b.kind for b in plan.buffers}
    written = set()
    for launch in plan.launches:
        assert launch.writes, launch
        ids = [launch.args[i] for i in launch.writes]
        assert all(kinds[i] in ("output", "temp") for i in ids), (launch, ids)
        written.update(ids)
    assert set(plan.outputs) <= written


def test_a_kernel_statement_it_cannot_follow_makes_every_parameter_written():
    import tvm
    from tvm import tirx

    from irc.targets import gpu

    t = target(CUDA).tvm_target()
    kernels = gpu.split_nests(gpu.translate_module(loops_module("mlp"))[0])
    scheduled = {name: gpu.schedule_kernel(f, t, check=False)[1] for name, f in kernels.funcs.items()}
    _, device = gpu._lower(tvm.IRModule(scheduled), t)
    gv, kernel = next(iter(device.functions.items()))
    assert gpu.written_params(kernel) == (0,)  # x @ w1 into the first temporary
    opaque = tirx.Evaluate(tvm.tirx.call_extern("int32", "touch", *kernel.params))
    assert gpu.written_params(kernel.with_body(tirx.SeqStmt([opaque, kernel.body]))) is None
    sync = tirx.Evaluate(tvm.tirx.call_intrin("int32", "tirx.tvm_storage_sync", tvm.ir.StringImm("shared")))
    assert gpu.written_params(kernel.with_body(tirx.SeqStmt([sync, kernel.body]))) == (0,)


def test_compiled_plans_round_trip():
    mod = compile_loops(loops_module("convnet"), "opencl")
    text = mod.plan.to_json()
    assert ExecutionPlan.from_json(text).to_json() == text


def test_schedule_classes():
    mod = compile_loops(loops_module("mlp"), "opencl")
    rules = mod.program.schedules
    assert rules["mlp_k0"] in ("dlight.Matmul", "tiled")  # x @ w1
    assert set(rules.values()) >= {"elementwise", "thread-per-output"}


@pytest.fixture(scope="module")
def cuda_modules():
    """(program name, arch) -> its compiled cuda module, for every test program on sm_80 and sm_90."""
    jobs = [(name, arch) for name in PROGRAMS for arch in ("sm_80", "sm_90")]
    return {job: compile_loops(loops_module(job[0]), {"kind": "cuda", "arch": job[1]}) for job in jobs}


def _assert_cubin_of(cubin: bytes, module, job) -> None:
    assert cubin[:4] == b"\x7fELF" and cubin[18] == 190, job  # an ELF for e_machine EM_CUDA
    assert all(launch.name.encode() in cubin for launch in module.plan.launches), job


@pytest.mark.slow  # compiles every test program for two archs (~10 s); test_cubin_cache is the quick nvcc check
@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc not installed")
def test_cuda_source_compiles_with_nvcc(cuda_modules):
    """Every kernel of every program, for sm_80 and sm_90 (nvcc runs in parallel: it takes seconds each)."""
    jobs = list(cuda_modules)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        cubins = dict(zip(jobs, pool.map(lambda job: nvcc_cubin(cuda_modules[job].source, job[1], "nvcc"), jobs)))
    for job, cubin in cubins.items():
        _assert_cubin_of(cubin, cuda_modules[job], job)


@pytest.mark.slow  # every program through NVRTC (~10 s); tests/runtime/test_package.py has a quick NVRTC build
@pytest.mark.skipif(not nvrtc_available(), reason="NVRTC (pip install irc[cuda]) not available")
@pytest.mark.parametrize("headers", ["wheels", "toolkit"])
def test_cuda_source_compiles_with_nvrtc(headers, cuda_modules, monkeypatch, tmp_path):
    """The path for a GPU machine without nvcc: every kernel of every program through NVRTC with
    only the pip wheels' headers (no toolkit), and one program with a toolkit's headers."""
    from irc.targets.cuda import cuda_include_paths, nvrtc_cubin

    jobs = list(cuda_modules)
    if headers == "wheels":
        monkeypatch.setenv("CUDA_HOME", str(tmp_path))  # no toolkit there
    elif (Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "include").is_dir():
        jobs = jobs[:1]
    else:
        pytest.skip("no CUDA toolkit headers")
    if not cuda_include_paths():
        pytest.skip("no CUDA headers (nvidia-cuda-runtime and nvidia-cuda-cccl, the cuda extra)")
    for job in jobs:
        _assert_cubin_of(nvrtc_cubin(cuda_modules[job].source, job[1]), cuda_modules[job], job)


def test_vector_declarations_get_their_own_alignment():
    """dlight's matmul declares `alignas(4) float2 acc[8]`, which NVRTC refuses ("alignment cannot be
    set to less than the default alignment"); irc raises such alignments to the vector type's."""
    source = (
        "alignas(4) float2 a[8];\n__shared__ alignas(4) float s[64];\nalignas(16) float2 b[2];\nalignas(2) half2 h;"
    )
    assert fix_vector_alignment(source) == (
        "alignas(8) float2 a[8];\n__shared__ alignas(4) float s[64];\nalignas(16) float2 b[2];\nalignas(4) half2 h;"
    )
    assert fix_vector_alignment("alignas(4) int4 x; alignas(8) double2 y; alignas(4) float3 z;") == (
        "alignas(16) int4 x; alignas(16) double2 y; alignas(4) float3 z;"
    )


@pytest.mark.skipif(not nvrtc_available(), reason="NVRTC (pip install irc[cuda]) not available")
@pytest.mark.parametrize("n", [1024, 4096])
def test_nvrtc_compiles_dlight_matmuls(n):
    """The f32 matmuls that TVM's own NVRTC compile failed on (the `alignas(4) float2` accumulator):
    dlight schedules them, and NVRTC, the compiler of a GPU machine without nvcc, builds a cubin for sm_90."""
    mod = compile_loops(parse_module(loops_modules.matmul(n, n, n)), CUDA)
    assert set(mod.program.schedules.values()) == {"dlight.Matmul"}
    assert "alignas(4) float2" not in mod.source
    _assert_cubin_of(nvrtc_cubin(mod.source, "sm_90"), mod, n)


def test_tvm_never_compiles_cuda(monkeypatch):
    """Code generation stays source only where TVM's CUDA runtime is loaded (a machine with a driver):
    its module factory would compile every module through `tvm_callback_cuda_compile`, a second compile
    beside irc's. Simulated here: a factory that calls the hook, and a hook that fails."""
    import tvm_ffi

    hook, factory = "tvm_callback_cuda_compile", "ffi.Module.create.cuda"
    calls = []

    def compile_hook(*args):
        calls.append("hook")
        raise RuntimeError("TVM compiled the CUDA source")

    def create_module(*args):
        calls.append("factory")
        return tvm_ffi.get_global_func(hook)(args[0])

    original_hook = tvm_ffi.get_global_func(hook, allow_missing=True)
    original_factory = tvm_ffi.get_global_func(factory, allow_missing=True)
    tvm_ffi.register_global_func(hook, compile_hook, override=True)
    tvm_ffi.register_global_func(factory, create_module, override=True)
    try:
        mod = compile_loops(parse_module(loops_modules.matmul(64, 64, 64)), CUDA)
        assert tvm_ffi.get_global_func(factory) is not None  # put back after the codegen
    finally:
        if original_hook is not None:
            tvm_ffi.register_global_func(hook, original_hook, override=True)
        if original_factory is not None:
            tvm_ffi.register_global_func(factory, original_factory, override=True)
        else:
            tvm_ffi.remove_global_func(factory)
    assert calls == []
    assert "__global__" in mod.source


@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc not installed")
def test_cubin_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path))
    mod = compile_loops(parse_module(loops_modules.relu_fma(1000)), CUDA)
    binary = mod.build()
    (cached,) = (tmp_path / "cuda").glob("*.cubin")
    assert cached.read_bytes() == binary


def test_running_cuda_without_cuda_python_is_clear(monkeypatch):
    mod = compile_loops(parse_module(loops_modules.relu_fma(64)), CUDA)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    monkeypatch.setattr(mod, "cubin", b"\x7fELF")  # no nvcc needed
    with pytest.raises(IRCError, match=r"cuda-python.*pip install irc\[cuda\]"):
        mod(np.ones(64, np.float32), np.ones(64, np.float32))


def test_running_cuda_without_a_driver_is_clear(monkeypatch):
    from irc.runtime import cuda

    class NoDriver:
        @staticmethod
        def cuInit(flags):
            raise RuntimeError("Failed to dlopen libcuda.so.1")

    monkeypatch.setattr(cuda, "_driver", lambda: NoDriver)
    cuda.primary_context.cache_clear()
    mod = compile_loops(parse_module(loops_modules.relu_fma(64)), CUDA)
    monkeypatch.setattr(mod, "cubin", b"\x7fELF")
    try:
        with pytest.raises(IRCError, match=r"no CUDA driver.*libcuda.*pip install irc\[cuda\]"):
            mod(np.ones(64, np.float32), np.ones(64, np.float32))
    finally:
        cuda.primary_context.cache_clear()


@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc not installed")
@pytest.mark.parametrize(
    "tile",
    [
        None,
        {"coalesced": 0},
        {"block_size_x": 16, "block_size_y": 16, "micro_size_x": 8, "micro_size_y": 8, "vector_size": 4},
    ],
    ids=["default", "dlight-default", "128x128"],
)
def test_matmul_kernels_fit_without_spilling(tile):
    """What ptxas reports for the 4096 matmul's kernel, cuda's default tile, dlight's default tile and the
    largest of the tuning sweep (benchmarks/gpu_packages.py): registers within the 255 a thread has, no
    spills to local memory, shared memory within the 48 KiB a block gets without opting in; the tile sets
    the launch."""
    from irc.targets.cuda import resource_usage

    target = CUDA if tile is None else {**CUDA, "matmul": tile}
    mod = compile_loops(parse_module(loops_modules.matmul(4096, 4096, 4096)), target)
    ((kernel, usage),) = resource_usage(mod.source, "sm_90").items()
    assert kernel == "matmul_k0_kernel"
    assert usage["spill_stores"] == usage["spill_loads"] == usage["stack"] == 0, usage
    assert 0 < usage["registers"] <= 255 and 0 < usage["smem"] <= 48 * 1024, usage
    (launch,) = next(iter(mod.plans.values())).launches
    # threads x outputs per thread: 16x4 by 16x8 (64x128 outputs per block; the default), 8x4 by 16x4
    # (32x64, dlight's), or 16x8 by 16x8 (128x128)
    if tile is None:
        want = ((64, 32, 1), (16, 16, 1))
    elif tile == {"coalesced": 0}:
        want = ((128, 64, 1), (8, 16, 1))
    else:
        want = ((32, 32, 1), (16, 16, 1))
    assert (launch.grid, launch.block) == want


TILE_128 = {"block_size_x": 16, "block_size_y": 16, "micro_size_x": 8, "micro_size_y": 8, "vector_size": 4}


@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc not installed")
def test_a_pipelined_matmul_keeps_two_tiles_per_operand_in_shared_memory():
    """`pipeline_stages` 2 double-buffers the 128x128 tile: twice its shared memory (two A and two B
    tiles of 128 x 16 floats, rows padded by 4), still within 48 KiB, registers and no spills as before;
    the k-loop's copies are pipelined in the TIR. (PoCL runs it: tests/targets/test_opencl.py.)"""
    from irc.targets.cuda import resource_usage

    usage = {}
    for stages in (1, 2):
        mod = compile_loops(
            parse_module(loops_modules.matmul(4096, 4096, 4096)),
            {**CUDA, "matmul": {**TILE_128, "pipeline_stages": stages}},
        )
        assert mod.program.schedules == {"matmul_k0": "dlight.Matmul"}
        assert ("software_pipeline_stage" in mod.tir_text) == (stages == 2)
        assert ("cp.async.cg.shared.global" in mod.source) == (stages == 2)  # sm_90: asynchronous copies
        usage[stages] = resource_usage(mod.source, "sm_90")["matmul_k0_kernel"]
    assert usage[1]["smem"] == 2 * 128 * (16 + 4) * 4
    assert usage[2]["smem"] == 2 * usage[1]["smem"] <= 48 * 1024
    assert usage[2]["spill_stores"] == usage[2]["spill_loads"] == usage[2]["stack"] == 0, usage
    assert 0 < usage[2]["registers"] <= 255


def _ptx_memory_ops(source: str, tmp_path: Path) -> dict[str, int]:
    """Counts of global loads and shared loads/stores in nvcc's PTX of `source`, vector and scalar apart."""
    import re
    import subprocess

    (tmp_path / "k.cu").write_text(source)
    subprocess.run(["nvcc", "-arch=sm_90", "-ptx", "-o", str(tmp_path / "k.ptx"), str(tmp_path / "k.cu")],
                   check=True, capture_output=True)  # fmt: skip
    ops = re.findall(r"\b(ld\.global|ld\.shared|st\.shared)(?:\.nc)?(\.v[24])?\.", (tmp_path / "k.ptx").read_text())
    counts: dict[str, int] = {}
    for op, vector in ops:
        key = f"{op}{'.vector' if vector else ''}"
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc not installed")
def test_the_coalesced_matmul_loads_b_in_vectors(tmp_path):
    """For a @ b (b is k x n), dlight's tile copy reads b down its columns: scalar global loads, and the
    multiply reads A and B from shared memory scalar by scalar. `coalesced` reads b along n and loads
    each thread's A and B values of a k-step from k-major tiles: every global load and every shared
    load a vector; no spills, fewer registers. Counted in nvcc's PTX of the 4096 matmul."""
    from irc.targets.cuda import resource_usage

    ops, usage = {}, {}
    for coalesced in (0, 1):
        target = {**CUDA, "matmul": {**TILE_128, "coalesced": coalesced}}
        mod = compile_loops(parse_module(loops_modules.matmul(4096, 4096, 4096)), target)
        ops[coalesced] = _ptx_memory_ops(mod.source, tmp_path)
        usage[coalesced] = resource_usage(mod.source, "sm_90")["matmul_k0_kernel"]
    assert ops[0].get("ld.global", 0) > 0 and ops[0].get("ld.shared.vector", 0) == 0, ops[0]
    assert ops[0]["ld.shared"] > 0, ops[0]
    assert ops[1].get("ld.global", 0) == 0 and ops[1]["ld.global.vector"] > 0, ops[1]
    assert ops[1].get("ld.shared", 0) == 0 and ops[1]["ld.shared.vector"] > 0, ops[1]
    assert usage[1]["spill_stores"] == usage[1]["spill_loads"] == usage[1]["stack"] == 0, usage[1]
    assert usage[1]["registers"] <= usage[0]["registers"] and usage[1]["smem"] <= 48 * 1024, usage


@pytest.mark.skipif(not nvrtc_available(), reason="NVRTC (pip install irc[cuda]) not available")
def test_nvrtc_compiles_a_pipelined_coalesced_matmul():
    mod = compile_loops(
        parse_module(loops_modules.matmul(1024, 1024, 1024)),
        {**CUDA, "matmul": {**TILE_128, "coalesced": 1, "pipeline_stages": 2}},
    )
    assert "cp.async.cg.shared.global" in mod.source and "cp.async.ca.shared.global" in mod.source
    _assert_cubin_of(nvrtc_cubin(mod.source, "sm_90"), mod, 1024)


@pytest.mark.skipif(not nvrtc_available(), reason="NVRTC (pip install irc[cuda]) not available")
def test_nvrtc_compiles_a_pipelined_matmul():
    mod = compile_loops(
        parse_module(loops_modules.matmul(1024, 1024, 1024)), {**CUDA, "matmul": {**TILE_128, "pipeline_stages": 2}}
    )
    assert "cp.async.cg.shared.global" in mod.source and "cp.async.ca.shared.global" in mod.source
    _assert_cubin_of(nvrtc_cubin(mod.source, "sm_90"), mod, 1024)


def test_a_bad_matmul_tile_is_named():
    with pytest.raises(InputError, match="matmul tile field 'tile_x' is not one of block_size_x"):
        compile_loops(parse_module(loops_modules.matmul(8, 8, 8)), {**CUDA, "matmul": {"tile_x": 4}})
    with pytest.raises(InputError, match="matmul tile field 'unroll' must be a positive integer, got -1"):
        compile_loops(parse_module(loops_modules.matmul(8, 8, 8)), {**CUDA, "matmul": {"unroll": -1}})
    with pytest.raises(InputError, match="'pipeline_stages' is at most 4, got 5"):
        compile_loops(parse_module(loops_modules.matmul(8, 8, 8)), {**CUDA, "matmul": {"pipeline_stages": 5}})
    with pytest.raises(InputError, match="matmul tile field 'coalesced' is 0 or 1, got 2"):
        compile_loops(parse_module(loops_modules.matmul(8, 8, 8)), {**CUDA, "matmul": {"coalesced": 2}})
    with pytest.raises(InputError, match="'pipeline_stages' must be a positive integer, got 0"):
        compile_loops(parse_module(loops_modules.matmul(8, 8, 8)), {**CUDA, "matmul": {"pipeline_stages": 0}})
    with pytest.raises(InputError, match="option 'matmul' takes a dict"):
        compile_loops(parse_module(loops_modules.matmul(8, 8, 8)), {**CUDA, "matmul": 128})


# ----------------------------------------------------------------------------- asynchronous copies (cp.async)

#: pipelined tiles: dlight's default, the 128x128 tile, its coalesced copy, three stages of k-steps of 8
PIPELINED = {
    "dlight-p2": {"pipeline_stages": 2},
    "t128-p2": {**TILE_128, "pipeline_stages": 2},
    "t128-coalesced-p2": {**TILE_128, "coalesced": 1, "pipeline_stages": 2},
    "t128k8-p3": {**TILE_128, "micro_size_k": 8, "pipeline_stages": 3},
}


def _lowered(n: int, spec: dict, transposed_b: bool = False):
    """(the lowered device module, its source) of an n x n x n matmul for `spec`."""
    import tvm

    from irc.targets import gpu

    t = target(spec)
    kernels = gpu.split_nests(gpu.translate_module(parse_module(loops_modules.matmul(n, n, n, transposed_b)))[0])
    scheduled = {k: gpu.schedule_kernel(f, t.tvm_target(), False, t.matmul_tile)[1] for k, f in kernels.funcs.items()}
    _, device = gpu._lower(tvm.IRModule(scheduled), t.tvm_target())
    return device, gpu.device_source(device, t.tvm_target())


def _async_stage_stores(stmt, inside: bool = False) -> tuple[int, int]:
    """(cp.async copies, plain stores to shared memory) inside the `async_scope`s of a lowered kernel."""
    from tvm import tirx

    if isinstance(stmt, tirx.SeqStmt):
        counts = [_async_stage_stores(s, inside) for s in stmt.seq]
        return sum(c for c, _ in counts), sum(p for _, p in counts)
    if isinstance(stmt, tirx.AttrStmt):
        return _async_stage_stores(stmt.body, inside or stmt.attr_key == "async_scope")
    if isinstance(stmt, tirx.IfThenElse):
        then = _async_stage_stores(stmt.then_case, inside)
        other = (0, 0) if stmt.else_case is None else _async_stage_stores(stmt.else_case, inside)
        return then[0] + other[0], then[1] + other[1]
    if getattr(stmt, "body", None) is not None:
        return _async_stage_stores(stmt.body, inside)
    if inside and isinstance(stmt, tirx.Evaluate):
        return int(getattr(stmt.value.op, "name", "") == "tirx.s_tir.cp_async_raw"), 0
    if inside and isinstance(stmt, tirx.BufferStore):
        return 0, int(stmt.buffer.scope() == "shared")
    return 0, 0


# each tile on one of the two arches (both for every tile took ~50 s of the suite; the code is the same)
@pytest.mark.parametrize("tile, arch", [(t, ("sm_80", "sm_90")[i % 2]) for i, t in enumerate(PIPELINED)])
def test_pipelined_matmuls_load_their_tiles_with_cp_async_from_sm_80(tile, arch):
    """On sm_80+ the copies of a pipelined k-loop's stage 0 are asynchronous: TVM groups and waits for them
    (`software_pipeline_async_stages`), and every global -> shared store of those stages is a `cp.async`
    (16 bytes where both sides are contiguous, 4 per element where a side is strided: dlight's copy of b
    down its columns, the coalesced tile's k-major store of a); nvcc builds it."""
    device, source = _lowered(1024, {"kind": "cuda", "arch": arch, "matmul": PIPELINED[tile]})
    ((_, kernel),) = device.functions.items()
    copies, plain = _async_stage_stores(kernel.body)
    assert copies > 0 and plain == 0, (copies, plain)
    assert "cp.async.commit_group" in source and "cp.async.wait_group" in source
    assert "cp.async.cg.shared.global" in source or "cp.async.ca.shared.global" in source
    if shutil.which("nvcc"):
        assert nvcc_cubin(source, arch, "nvcc")[:4] == b"\x7fELF"


def test_no_cp_async_before_sm_80_on_opencl_or_without_pipelining():
    """`cp.async` is sm_80's: older archs, OpenCL and a k-loop that is not pipelined keep plain copies."""
    program = parse_module(loops_modules.matmul(256, 256, 256))
    tile = {**TILE_128, "pipeline_stages": 2}
    for spec in ({"kind": "cuda", "arch": "sm_75", "matmul": tile}, {**CUDA, "matmul": TILE_128}, CUDA):
        mod = compile_loops(program, spec)
        assert "cp.async" not in mod.source and "software_pipeline_async_stages" not in mod.tir_text, spec
    opencl = compile_loops(program, {"kind": "opencl", "matmul": tile})
    assert "software_pipeline_stage" in opencl.tir_text and "software_pipeline_async_stages" not in opencl.tir_text
    assert "async" not in opencl.source


def test_async_copies_keep_strided_lanes_apart():
    """A store of a global -> shared copy becomes one `cp.async` where both sides are contiguous and one
    per element where a side is strided (TVM's own InjectPTXAsyncCopy copies `lanes` contiguous elements
    from the first address whatever the stride); offsets count scalars, also into a shared buffer of a
    vector type (TVM's codegen scales them by the scalar's size); a padded tile's `if_then_else(p, load,
    0)` becomes a predicated copy (zeros where p is false); anything else stays a plain store."""
    import tvm
    from tvm import tirx
    from tvm.sym.analyzer import Analyzer

    from irc.targets.gpu import _cp_async

    b = tirx.decl_buffer((4096,), "float32", "B")
    shared = tirx.decl_buffer((256,), "float32", "B_shared", scope="shared")
    vectors = tirx.decl_buffer((64,), "float32x4", "B_vectors", scope="shared")
    local = tirx.decl_buffer((16,), "float32", "B_local", scope="local")
    i = tirx.Var("i", "int32")
    analyzer = Analyzer()
    analyzer.bind(i, 5)

    def copies(buffer, value, index):
        calls = _cp_async(tirx.BufferStore(buffer, value, [index]))
        if calls is None:
            return None
        # (destination offset, source offset, bytes[, predicate]) with i = 5
        return [tuple(int(analyzer.simplify(a)) for a in c.value.args[1:2] + c.value.args[3:]) for c in calls]

    def ramp(stride):
        return tirx.Ramp(i, stride, 4)

    assert copies(shared, tirx.BufferLoad(b, [ramp(1)]), ramp(1)) == [(5, 5, 16)]
    assert copies(shared, tirx.BufferLoad(b, [ramp(1024)]), ramp(1)) == [(5 + k, 5 + 1024 * k, 4) for k in range(4)]
    assert copies(shared, tirx.BufferLoad(b, [ramp(1)]), ramp(132)) == [(5 + 132 * k, 5 + k, 4) for k in range(4)]
    assert copies(vectors, tirx.BufferLoad(b, [ramp(1)]), i) == [(20, 5, 16)]
    zeros = tirx.Broadcast(tirx.FloatImm("float32", 0.0), 4)
    guarded = tvm.tirx.if_then_else(i < 10, tirx.BufferLoad(b, [ramp(1)]), zeros)
    assert copies(shared, guarded, ramp(1)) == [(5, 5, 16, 1)]
    ones = tirx.Broadcast(tirx.FloatImm("float32", 1.0), 4)
    assert copies(shared, tvm.tirx.if_then_else(i < 10, tirx.BufferLoad(b, [ramp(1)]), ones), ramp(1)) is None
    assert copies(local, tirx.BufferLoad(b, [ramp(1)]), ramp(1)) is None


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ not installed")
# each tile with one of the two shapes: sizes no tile divides, and b transposed (one emulation ~6 s)
@pytest.mark.parametrize(
    "tile, shape",
    [(t, [(100, 36, 70, False), (96, 48, 64, True)][i % 2]) for i, t in enumerate(PIPELINED)],
    ids=[f"{t}-{['odd', 'b-transposed'][i % 2]}" for i, t in enumerate(PIPELINED)],
)
def test_pipelined_matmuls_with_async_copies_compute_the_product_in_a_cpu_emulation(tile, shape, tmp_path):
    """The generated CUDA, cp.async copies included, run by tests/targets/cuda_emulator.py (one CPU thread
    per CUDA thread): the product in float32, also for odd sizes (predicated copies of padded tiles) and
    b stored transposed."""

    m, k, n, transposed_b = shape
    mod = compile_loops(parse_module(loops_modules.matmul(m, k, n, transposed_b)), {**CUDA, "matmul": PIPELINED[tile]})
    assert "cp.async" in mod.source
    _check_emulated_product(mod, shape, tmp_path)


def _check_emulated_product(mod, shape, tmp_path, seed: int = 0) -> None:
    """`mod`, an m x k x n matmul (b stored n x k where transposed), in the CPU emulation of its CUDA:
    the product within float32 rounding of float64 numpy's."""
    from tests.targets.cuda_emulator import emulate

    m, k, n, transposed_b = shape
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if transposed_b else (k, n)).astype(np.float32)
    (c,) = emulate(mod, tmp_path)(a, b)
    want = a.astype(np.float64) @ (b.T if transposed_b else b).astype(np.float64)
    assert np.abs(c - want).max() <= 1e-5 * np.abs(want).max()


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ not installed")
@pytest.mark.parametrize("shape", [(100, 36, 70, False), (96, 48, 136, True)], ids=["odd", "b-transposed"])
def test_the_default_cuda_matmul_tile_computes_the_product_in_a_cpu_emulation(shape, tmp_path):
    """cuda's default tile (`DEFAULT_MATMUL_TILE`: the coalesced schedule with virtual threads, whose
    float4 reads of a thread's two groups of outputs lie a block-row apart) in the CPU emulation of the
    generated CUDA: the product, for sizes the tile does not divide and for b stored transposed."""
    from irc.targets.cuda import DEFAULT_MATMUL_TILE

    m, k, n, transposed_b = shape
    tile = {**DEFAULT_MATMUL_TILE, "min_tiles": 0}  # these small matmuls would get dlight's tile
    mod = compile_loops(parse_module(loops_modules.matmul(m, k, n, transposed_b)), {**CUDA, "matmul": tile})
    (launch,) = next(iter(mod.plans.values())).launches
    assert launch.block == (16, 16, 1) and "float4" in mod.source
    _check_emulated_product(mod, shape, tmp_path, seed=1)


def test_the_coalesced_tile_pads_a_s_transposed_rows_in_groups():
    """a (contiguous along k) is stored transposed into a k-major tile, one row per element of a thread's
    vector: its rows are padded to 68 floats and each group of 4 rows to 296 (8 mod 32), so that the 32
    threads of a warp storing one element each hit 32 banks; b's tile keeps rows of 132 floats."""
    mod = compile_loops(parse_module(loops_modules.matmul(4096, 4096, 4096)), CUDA)
    assert "float A_reindex_shared_ptr[1184]" in mod.source  # 4 groups of 296 floats (4 rows of 68, padded)
    assert "float4 B_reindex_shared_ptr[528]" in mod.source  # 16 rows of 132 floats
    assert "* 296)" in mod.source


def test_matmuls_too_small_for_the_default_tile_keep_dlight_s():
    """cuda's default tile where the output takes at least `min_tiles` (64) of its 64x128 blocks, else
    dlight's default tile (32x64 outputs per block of 8x16 threads)."""
    for n, want in ((512, ((16, 8, 1), (8, 16, 1))), (1024, ((16, 8, 1), (16, 16, 1)))):
        mod = compile_loops(parse_module(loops_modules.matmul(n, n, n)), CUDA)
        (launch,) = next(iter(mod.plans.values())).launches
        assert (launch.grid, launch.block) == want, n
