"""The contraction schedule (register-tiled, B-packed matmul) on the shapes that pick each of its variants.

Every case checks the scheduled build against numpy and that the contraction rule applied (no notes).
"""

import re

import numpy as np
import pytest

from irc.ir import parse_module
from irc.targets import compile_loops
from irc.targets.llvm.cpu import cpu_info, resolve_target
from tests.targets.loops_modules import for_, func, matmul, parallel

# f32 SIMD lanes of this host (8 with AVX2, 16 with AVX-512): panel widths follow it
LANES = cpu_info(resolve_target()).lanes("float32")


def batch_matmul(batch: int, m: int, k: int, n: int, dtype: str = "f32", shared_b: bool = False) -> str:
    """C[b] = A[b] @ B[b] (or A[b] @ B with `shared_b`): parallel(b, i, j) { for k { C += A * B } }."""
    a, c = f"memref<{batch}x{m}x{k}x{dtype}>", f"memref<{batch}x{m}x{n}x{dtype}>"
    b = f"memref<{k}x{n}x{dtype}>" if shared_b else f"memref<{batch}x{k}x{n}x{dtype}>"
    b_index = "%k, %j" if shared_b else "%b, %k, %j"
    fill = parallel(["b", "i", "j"], [batch, m, n], f"  memref.store %zero, %C[%b, %i, %j] : {c}")
    update = for_(
        "k",
        k,
        f"""  %x = memref.load %A[%b, %i, %k] : {a}
  %y = memref.load %B[{b_index}] : {b}
  %acc = memref.load %C[%b, %i, %j] : {c}
  %p = arith.mulf %x, %y : {dtype}
  %s = arith.addf %acc, %p : {dtype}
  memref.store %s, %C[%b, %i, %j] : {c}""",
    )
    body = f"  %zero = arith.constant 0.0 : {dtype}\n{fill}\n{parallel(['b', 'i', 'j'], [batch, m, n], update)}"
    return func("bmm", f"%A: {a}, %B: {b}, %C: {c}", body, {batch, m, k, n})


@pytest.mark.parametrize(
    ("m", "k", "n"),
    [
        (48, 40, 128),  # 8 panels of 16 columns: parallel over panels, each packed by its task
        (256, 16, 32),  # 2 panels: B packed up front, parallel over panels x row tiles
        (64, 50, 96),  # K not a multiple of anything
        (36, 24, 25 * LANES),  # N = 25 SIMD widths: one-register panels, 6-row tiles
        (64, 256, 10),  # a classifier: N = 10, no multiple of the SIMD width: one 10-wide panel
    ],
)
def test_matmul_variants(rng, m, k, n):
    compiled = compile_loops(parse_module(matmul(m, k, n)))
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    np.testing.assert_allclose(compiled(a, b)[0], a @ b, rtol=1e-4, atol=1e-4)
    assert compiled.schedule_notes == []
    assert "B_global" in compiled.tir_text and "T.parallel" in compiled.tir_text


def test_per_panel_packing_is_inside_the_parallel_loop(rng):
    text = compile_loops(parse_module(matmul(64, 64, 256))).tir_text
    parallel_at, pack_at = text.index("T.parallel"), text.index('T.sblock("B_global")')
    assert parallel_at < pack_at  # the pack runs inside the parallel panel loop


@pytest.mark.parametrize("k", [784, 201])
def test_transposed_b_panels_copy_at_most_two_registers_wide(rng, k):
    """C = A @ B^T (B stored (n, k), a Linear layer's weight): the per-panel copy of B runs along K,
    vectorized one SIMD width at a time (K = 201: no width divides it, not vectorized). Vectorized
    all at once, LLVM took seconds to compile it."""
    m, n = 64, 256
    compiled = compile_loops(parse_module(matmul(m, k, n, transposed_b=True)))
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((n, k), np.float32)
    np.testing.assert_allclose(compiled(a, b)[0], a @ b.T, rtol=1e-4, atol=1e-4)
    assert compiled.schedule_notes == []
    widths = [int(w) for w in re.findall(r"T\.vectorized\((\d+)\)", compiled.tir_text)]
    assert widths and max(widths) <= 2 * LANES


@pytest.mark.parametrize("shared_b", [False, True])
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_batch_matmul(rng, dtype, shared_b):
    batch, m, k, n = 3, 20, 24, 64
    np_dtype = np.float32 if dtype == "f32" else np.float64
    compiled = compile_loops(parse_module(batch_matmul(batch, m, k, n, dtype, shared_b)))
    a = rng.standard_normal((batch, m, k)).astype(np_dtype)
    b = rng.standard_normal((k, n) if shared_b else (batch, k, n)).astype(np_dtype)
    np.testing.assert_allclose(compiled(a, b)[0], a @ b, rtol=1e-4, atol=1e-4)
    assert compiled.schedule_notes == []
