"""TF32 tensor-core matmuls for cuda (sm_80+) without a GPU: the option and PyTorch's switches, the code
(mma.sync .tf32, cp.async), nvcc/NVRTC/ptxas, fallbacks, unchanged code with the flag off, and the
numbers in a CPU emulation of the generated CUDA (tests/targets/cuda_emulator.py). On a GPU:
tests/targets/test_cuda.py."""

import itertools
import re
import shutil

import numpy as np
import pytest

import irc
from irc.errors import InputError
from irc.ir import parse_module
from irc.targets import compile_loops, target
from irc.targets.cuda import nvcc_cubin, nvrtc_available, nvrtc_cubin, resource_usage
from irc.targets.cuda import tensor_core as tc
from irc.targets.gpu import TF32_RULE
from tests.targets import loops_modules
from tests.targets.gpu_programs import loops_module

SM90 = {"kind": "cuda", "arch": "sm_90"}
TF32 = {**SM90, "tf32": True}
MMA = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"


@pytest.fixture
def allow_tf32():
    """TF32 allowed (`irc.backends.cuda.matmul.allow_tf32 = True`) for the test, PyTorch's default after."""
    irc.backends.cuda.matmul.allow_tf32 = True
    yield
    irc.set_float32_matmul_precision("highest")


def matmul(m: int, k: int, n: int, transposed_b: bool = False):
    return parse_module(loops_modules.matmul(m, k, n, transposed_b))


def test_the_fragment_layouts_are_one_to_one():
    """Every element of an A (16x8), B (8x16) and C (16x16) tile has its own (lane, register), and the
    inverse maps the intrinsics load and store with give it back."""
    for fragment, element, rows, cols, registers in (
        (tc._a_fragment, tc._a_element, 16, 8, 4),
        (tc._b_fragment, tc._b_element, 8, 16, 4),
        (tc._c_fragment, tc._c_element, 16, 16, 8),
    ):
        places = {fragment(r, c): (r, c) for r, c in itertools.product(range(rows), range(cols))}
        assert sorted(places) == list(itertools.product(range(32), range(registers)))
        assert all(element(*place) == at for place, at in places.items())


def test_tf32_is_an_option_of_cuda_targets_that_tvm_never_sees():
    assert "tf32" not in str(target(TF32).tvm_target())
    assert target(TF32).key_material() != target(SM90).key_material()  # the compile cache's key
    assert target(TF32).tf32 and not target({**TF32, "arch": "sm_75"}).tf32
    with pytest.raises(InputError, match="option 'tf32' is True or False, got 1"):
        target({**SM90, "tf32": 1})
    with pytest.raises(InputError, match="target opencl: option 'tf32' is for cuda targets"):
        target({"kind": "opencl", "tf32": True})


def test_pytorchs_switches_set_the_option_when_a_target_resolves(allow_tf32):
    """While TF32 is allowed a cuda target resolves with "tf32": True on sm_80+ (so the switch in effect
    at compile time is in the cache key); an explicit "tf32" stays, older archs get none."""
    assert target(SM90).resolve().spec == TF32 and not target(SM90).resolved
    assert target({"kind": "cuda", "arch": "sm_80"}).resolve().options["tf32"] is True
    assert target({"kind": "cuda", "arch": "sm_75"}).resolve().spec == {"kind": "cuda", "arch": "sm_75"}
    assert target({**SM90, "tf32": False}).resolve().spec == {**SM90, "tf32": False}
    for precision, allowed in (("highest", False), ("medium", True), ("high", True)):
        irc.set_float32_matmul_precision(precision)
        assert ("tf32" in target(SM90).resolve().options) == allowed
    irc.backends.cuda.matmul.allow_tf32 = False
    assert target(SM90).resolve().spec == SM90 and target(SM90).resolved


def test_a_jitted_matmul_takes_the_switch_in_effect_when_it_compiles(allow_tf32):
    a, b = np.ones((128, 64), np.float32), np.ones((64, 128), np.float32)
    tf32 = irc.jit(lambda x, y: x @ y, target=SM90).lower(a, b)
    irc.backends.cuda.matmul.allow_tf32 = False
    full = irc.jit(lambda x, y: x @ y, target=SM90).lower(a, b)
    assert set(tf32.compiled.program.schedules.values()) == {TF32_RULE} and MMA in tf32.stages["target"]
    assert set(full.compiled.program.schedules.values()) == {"dlight.Matmul"} and "mma" not in full.stages["target"]


@pytest.mark.parametrize("shape", [(1024, 1024, 1024, False), (4096, 4096, 4096, True)])
def test_tf32_matmuls_run_on_tensor_cores(shape):
    """1024 and 4096 matmuls (b as is, and transposed as a Linear layer's weight; the MLP test below has a
    small one): the TF32 schedule, its mma and cp.async instructions, and what ptxas reports: no spills,
    registers and shared memory within a block's limits; nvcc builds them for sm_80 and sm_90, NVRTC for
    sm_90."""
    m, k, n, transposed_b = shape
    mod = compile_loops(matmul(*shape), TF32)
    assert mod.program.schedules == {"matmul_k0": TF32_RULE}
    assert mod.source.count(MMA) >= 2 and "cp.async.cg.shared.global" in mod.source
    # every fragment in the thread's registers: 4 x 2 accumulator tiles of 8 floats, A and B fragments of
    # 4 (not arrays of a whole warp's, which TVM's LowerWarpMemory leaves of all but the first)
    fragments = [int(size) for size in re.findall(r"float \w+_warp_ptr\[(\d+)\];", mod.source)]
    assert len(fragments) >= 3 and max(fragments) <= 64, fragments
    (launch,) = mod.plan.launches
    block_m, block_n = (128, 128) if min(m, n) >= 128 else (64, 64)
    assert launch.grid == (n // block_n, m // block_m, 1)
    if shutil.which("nvcc"):
        ((kernel, usage),) = resource_usage(mod.source, "sm_90").items()
        assert usage["spill_stores"] == usage["spill_loads"] == usage["stack"] == 0, usage
        assert 0 < usage["registers"] <= 255 and 0 < usage["smem"] <= 48 * 1024, usage
        assert nvcc_cubin(mod.source, "sm_80", "nvcc")[:4] == b"\x7fELF"
    if nvrtc_available():
        assert b"matmul_k0_kernel" in nvrtc_cubin(mod.source, "sm_90")


@pytest.mark.parametrize("shape", [(1000, 1000, 1000), (64, 256, 10)])
def test_matmuls_no_tile_fits_keep_their_float32_schedule(shape):
    """No tile divides these (M, N multiples of 32 and K of 8 needed): dlight's schedule, the code of a
    target without TF32 byte for byte."""
    mod = compile_loops(matmul(*shape), TF32)
    assert mod.program.schedules == {"matmul_k0": "dlight.Matmul"}
    assert mod.source == compile_loops(matmul(*shape), SM90).source


@pytest.mark.parametrize("name", ["mlp", "convnet"])
def test_without_tf32_the_code_is_unchanged(name):
    """The flag off, set False, or on where no arch has TF32 (sm_75): the same CUDA as a plain target."""
    plain = compile_loops(loops_module(name), SM90).source
    assert compile_loops(loops_module(name), {**SM90, "tf32": False}).source == plain
    old = {"kind": "cuda", "arch": "sm_75"}
    assert (
        compile_loops(loops_module(name), {**old, "tf32": True}).source == compile_loops(loops_module(name), old).source
    )
    assert "mma" not in plain


def test_a_mlp_with_tf32_uses_tensor_cores_for_its_first_layer():
    mod = compile_loops(loops_module("mlp"), TF32)
    assert [k for k, rule in mod.program.schedules.items() if rule == TF32_RULE] == ["mlp_k0"]  # 64x784 @ 784x256
    if shutil.which("nvcc"):
        assert nvcc_cubin(mod.source, "sm_90", "nvcc")[:4] == b"\x7fELF"


def tf32_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How far a TF32 product may be from the exact one, per element: each operand rounded to 10 mantissa
    bits (2^-11 relative each), the float32 accumulation on top."""
    k = a.shape[1]
    return (2.0**-10 + k * 2.0**-24) * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ not installed")
@pytest.mark.parametrize(
    "shape",
    [(256, 48, 128, True), (64, 32, 64, False), (96, 40, 32, True)],
    ids=["b-transposed-128x128-tiles", "64x64-tile", "32x32-tiles"],
)
def test_tf32_matmuls_compute_the_product_in_a_cpu_emulation(shape, tmp_path):
    """The generated CUDA run by tests/targets/cuda_emulator.py, whose mma follows the PTX ISA's fragment
    tables on its own: within TF32's rounding of the exact product, and not float32 (the tensor cores
    ran). Several blocks, k-steps through the double-buffered pipeline, every tile of `TILES`."""
    from tests.targets.cuda_emulator import emulate

    m, k, n, transposed_b = shape
    mod = compile_loops(matmul(*shape), TF32)
    assert mod.program.schedules == {"matmul_k0": TF32_RULE}
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if transposed_b else (k, n)).astype(np.float32)
    (c,) = emulate(mod, tmp_path)(a, b)
    b_kn = b.T if transposed_b else b
    error = np.abs(c - a.astype(np.float64) @ b_kn.astype(np.float64))
    assert (error <= tf32_bound(a, b_kn)).all()
    assert error.max() > 1e-5 * np.abs(a @ b_kn).max()


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ not installed")
def test_a_mlp_with_tf32_computes_its_output_in_a_cpu_emulation(tmp_path):
    """Every kernel of the MLP (its first layer on tensor cores, the others lowered without TVM's common
    subexpression elimination, as a TF32 module is) against the hl reference."""
    from irc.interpreters.reference import run_hl
    from tests.targets.cuda_emulator import emulate
    from tests.targets.gpu_programs import program

    module, arrays = program("mlp")
    (got,) = emulate(compile_loops(loops_module("mlp"), TF32), tmp_path)(*arrays)
    (want,) = run_hl(module, arrays)
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-3 * np.abs(want).max())


def test_the_gpu_benchmark_packages_hold_tf32_matmuls(tmp_path, monkeypatch):
    """`benchmarks/gpu_packages.py build` adds `matmul<n>_tf32` for cuda (its kernels on tensor cores),
    and `run` times those against torch with `allow_tf32` (set for the reference's calls, put back after:
    tried with the opencl package of the same matmul and torch on the CPU)."""
    import json
    import runpy
    import zipfile
    from pathlib import Path

    from tests.runtime.test_package import _has_opencl

    bench = runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_packages.py"))
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "cache"))
    targets = "cuda,opencl" if _has_opencl() else "cuda"
    bench["main"](["build", "-o", str(tmp_path), "--targets", targets, "--small", "--only", "matmul64,matmul64_tf32"])
    (record,) = [r for r in json.loads((tmp_path / "cuda" / "index.json").read_text())["programs"] if r.get("tf32")]
    assert record == {
        "name": "matmul64_tf32",
        "package": "matmul64_tf32.ircpkg",
        "kind": "matmul",
        "n": 64,
        "tf32": True,
    }
    with zipfile.ZipFile(tmp_path / "cuda" / record["package"]) as archive:
        assert MMA in archive.read("kernels.cu").decode()
    if not _has_opencl():
        return
    torch = pytest.importorskip("torch")
    runner = bench["Bench"](tmp_path / "opencl", repeats=1)
    package = runner.load(tmp_path / "opencl" / "matmul64.ircpkg")
    row = runner.bench_matmul({"kind": "matmul", "n": 64, "tf32": True}, package)
    assert row[2:4] == ("TFLOP/s", "torch TF32") and row[4] < 1e-5
    assert torch.backends.cuda.matmul.allow_tf32 is False


@pytest.mark.parametrize("spec", [TF32, {**SM90, "matmul": {"pipeline_stages": 2}}], ids=["tf32", "cp.async"])
def test_tensor_core_and_async_copy_kernels_know_what_they_write(spec):
    """`cp.async` writes shared memory and `mma` registers: the matmul kernel still writes only its
    output (a plan's launches may overlap in a CUDA graph: docs/gpu.md)."""
    (launch, *_) = compile_loops(loops_module("mlp"), spec).plan.launches
    assert launch.name == "mlp_k0_kernel" and [launch.args[i] for i in launch.writes] == ["alloc"]


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ not installed")
def test_tf32_rounding_keeps_inf_and_nan(tmp_path):
    """The operands are rounded to TF32 before the tensor cores take them (half an ulp added to the bits),
    but not inf and nan, which that would turn into nan and a number: they reach the product as in torch."""
    from tests.targets.cuda_emulator import emulate

    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 32)).astype(np.float32)
    b = rng.standard_normal((32, 64)).astype(np.float32)
    a[3, 5], b[7, 2] = np.inf, np.nan
    (c,) = emulate(compile_loops(matmul(64, 32, 64), TF32), tmp_path)(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(c), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(c), np.isneginf(want))
    finite = np.isfinite(want)
    assert (np.abs(c[finite] - want[finite]) <= tf32_bound(a, b)[finite]).all()


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ not installed")
@pytest.mark.parametrize(
    "fn, shapes",
    [(lambda a, b: irc.bmm(a, b), ((4, 128, 64), (4, 64, 128))), (lambda a, b: a.T @ b, ((64, 128), (64, 256)))],
    ids=["bmm", "a-transposed"],
)
def test_batched_and_k_major_matmuls_in_a_cpu_emulation(fn, shapes, tmp_path):
    """A batched matmul (a block row per batch) and `a.T @ b`, whose A is contiguous along i (stored
    k-major in shared memory, the other fragment load): jitted, on tensor cores, right."""
    from tests.targets.cuda_emulator import emulate

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(shape).astype(np.float32) for shape in shapes)
    compiled = irc.jit(fn, target=TF32).lower(a, b).compiled
    assert set(compiled.program.schedules.values()) == {TF32_RULE}
    (c,) = emulate(compiled, tmp_path)(a, b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if a.ndim == 2:  # a.T @ b
        a64 = a64.T
    k = a64.shape[-1]
    bound = (2.0**-10 + k * 2.0**-24) * np.matmul(np.abs(a64), np.abs(b64))
    assert (np.abs(c - np.matmul(a64, b64)) <= bound).all()


def test_an_unresolved_target_with_an_arch_still_has_its_tvm_target(allow_tf32):
    """With TF32 allowed a target with an arch but no "tf32" is not resolved yet; its TVM target (TVM's
    side knows nothing of "tf32") is the same either way, and no "explicit GPU architecture" error."""
    assert not target(SM90).resolved
    assert str(target(SM90).tvm_target()) == str(target(TF32).tvm_target())
