"""64-bit index arithmetic where a buffer can reach 2^31 elements (32-bit elsewhere).

A (32768, 65536) input used to come back as all zeros: the fused loop extent,
2^31, wrapped to a negative int32 and the loop ran zero times. The compiler now
decides the index width per func from its static shapes. The int64 path is
checked here on ordinary programs by lowering the threshold (every func then
takes it), against numpy; the real 2^31-element run is a slow test.
"""

import shutil

import numpy as np
import pytest

import irc
from irc.compiler.pipeline import Pipeline
from irc.frontend.tracing import trace_program
from irc.targets import tir
from irc.targets.cuda import nvcc_cubin, nvrtc_available, nvrtc_cubin

BIG = (32768, 65536)  # exactly 2^31 elements


def _lower(fn, *specs, target="llvm", stop_after=None):
    program = trace_program(fn, [irc.Spec(shape, dtype) for shape, dtype in specs])
    return Pipeline(target, stop_after).run(program.module)


@pytest.mark.parametrize(
    "shape, wide",
    [((2, 3), False), ((32767, 65535), True), (BIG, True), ((1 << 20, 1 << 20), True)],
)
def test_index_width_is_decided_by_the_largest_buffer(shape, wide):
    tir_text = _lower(lambda a: a * 2 + 1, (shape, "float32"), stop_after="tir").stages["tir"]
    assert ("T.int64(" in tir_text) == wide
    if wide:  # the fused loop extent is the full element count, not a wrapped int32
        assert "T.parallel(-" not in tir_text


def test_the_same_reduction_is_64_bit_only_where_its_buffer_needs_it():
    big = _lower(lambda a: a.sum(), (BIG, "float32"), stop_after="tir").stages
    assert "memref<32768x65536xf32>" in big["loops"]
    assert "T.int64(" in big["tir"]
    small = _lower(lambda a: a.sum(), ((64, 64), "float32"), stop_after="tir").stages["tir"]
    assert "int64" not in small


_PROGRAMS = {
    "elementwise": (lambda a, b: (a * b + a).relu(), [((5, 7), "float32"), ((5, 7), "float32")]),
    "broadcast-compare": (lambda a, b: a[:, None] < b, [((6,), "float32"), ((9,), "float32")]),
    "matmul": (lambda a, b: a @ b, [((13, 17), "float32"), ((17, 11), "float32")]),
    "reduce-dim": (lambda a, b: a.sum(dim=1) + b.amax(dim=0), [((4, 6), "float32"), ((6, 4), "float32")]),
    "views": (lambda a, b: a.reshape(6, 4).transpose(0, 1)[1:3] * b, [((2, 3, 4), "float32"), ((2, 6), "float32")]),
    "softmax": (lambda a, b: irc.nn.functional.softmax(a, dim=-1) - b, [((3, 8), "float64"), ((3, 8), "float64")]),
    "conv": (
        lambda x, w: irc.nn.functional.conv2d(x, w, padding=1),
        [((2, 3, 6, 6), "float32"), ((4, 3, 3, 3), "float32")],
    ),
}


@pytest.mark.parametrize("target", ["llvm", "opencl"])
@pytest.mark.parametrize("name", sorted(_PROGRAMS))
def test_64_bit_index_path_matches_numpy(name, target, monkeypatch, rng):
    fn, specs = _PROGRAMS[name]
    arrays = [rng.standard_normal(shape).astype(dtype) for shape, dtype in specs]
    program = trace_program(fn, [irc.Spec(shape, dtype) for shape, dtype in specs])
    reference = Pipeline("ref").run(program.module)(*arrays)
    monkeypatch.setattr(tir, "INT32_INDEX_LIMIT", 1)
    lowering = Pipeline(target).run(program.module)
    assert "T.int64(" in lowering.stages["tir"]
    got = lowering(*arrays)
    for g, r in zip(got, reference, strict=True):
        np.testing.assert_allclose(np.asarray(g), r, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not (shutil.which("nvcc") or nvrtc_available()), reason="neither nvcc nor NVRTC is installed")
def test_cuda_source_with_64_bit_indices_compiles():
    lowering = _lower(lambda a: (a * 2 + 1).sum(dim=1), (BIG, "float32"), target={"kind": "cuda", "arch": "sm_90"})
    source = lowering.stages["target"]
    cubin = nvcc_cubin(source, "sm_90", "nvcc") if shutil.which("nvcc") else nvrtc_cubin(source, "sm_90")
    assert cubin[:4] == b"\x7fELF"


@pytest.mark.parametrize("tier", ["interpret", "compile"])
def test_out_of_memory_is_one_clear_error(tier):
    with irc.set_eager_mode(tier), pytest.raises(irc.errors.ExecutionError, match="out of memory"):
        irc.zeros((1 << 20, 1 << 20)).sum().item()


@pytest.mark.slow
def test_2_pow_31_elements_run_right():
    """The issue's case, on a bool output (2 GiB) instead of 8 GiB of float32."""
    x = np.arange(BIG[0], dtype=np.float32)
    y = np.arange(BIG[1], dtype=np.float32) * 0.5
    got = irc.jit(lambda x, y: x[:, None] < y)(x, y).numpy()
    assert got.shape == BIG
    # y is sorted: row i holds True from the first y_j > x_i on (numpy's searchsorted, not a second 2 GiB array)
    first = np.searchsorted(y, x, side="right")
    assert np.count_nonzero(got) == (BIG[1] - first).sum()
    rows = np.r_[0:3, BIG[0] // 2, BIG[0] - 3 : BIG[0]]
    np.testing.assert_array_equal(got[rows], x[rows, None] < y)
    assert got[-1, -1] and not got[-1, 0] and got[0, 1]
