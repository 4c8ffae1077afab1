"""Hand-written stage-3 (linalg on tensors) programs, with input shapes and numpy oracles.

Shared by the bufferize, loops and interpreter tests. Each case is the op mix
convert-hl-to-linalg emits for one kind of hl graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ID2 = "affine_map<(d0, d1) -> (d0, d1)>"


@dataclass
class Case:
    name: str
    mlir: str
    shapes: list[tuple[int, ...]]
    oracle: Callable[..., list[np.ndarray]]
    dtypes: tuple[str, ...] = ()

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        dtypes = self.dtypes or ("float32",) * len(self.shapes)
        return [rng.standard_normal(s).astype(d) for s, d in zip(self.shapes, dtypes)]


ELEMENTWISE = Case(
    "elementwise_broadcast",
    f"""
func.func @f(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {{
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %0 = linalg.generic {{indexing_maps = [{ID2}, affine_map<(d0, d1) -> (d1)>, {ID2}], iterator_types = ["parallel", "parallel"]}}
      ins(%x, %b : tensor<4x8xf32>, tensor<8xf32>) outs(%e : tensor<4x8xf32>) {{
  ^bb0(%a: f32, %c: f32, %o: f32):
    %1 = arith.addf %a, %c : f32
    %2 = arith.maximumf %1, %zero : f32
    %3 = math.tanh %2 : f32
    linalg.yield %3 : f32
  }} -> tensor<4x8xf32>
  %e2 = tensor.empty() : tensor<4x8xf32>
  %4 = linalg.generic {{indexing_maps = [{ID2}, {ID2}, {ID2}], iterator_types = ["parallel", "parallel"]}}
      ins(%0, %x : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {{
  ^bb0(%a: f32, %c: f32, %o: f32):
    %5 = arith.mulf %a, %c : f32
    %6 = math.exp %5 : f32
    linalg.yield %6 : f32
  }} -> tensor<4x8xf32>
  return %4 : tensor<4x8xf32>
}}""",
    [(4, 8), (8,)],
    lambda x, b: [np.exp(np.tanh(np.maximum(x + b, 0)) * x)],
)

SUM_KEEPDIM = Case(
    "sum_keepdim",
    f"""
func.func @f(%x: tensor<4x8xf32>) -> tensor<4x1xf32> {{
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<4x1xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x1xf32>) -> tensor<4x1xf32>
  %r = linalg.generic {{indexing_maps = [{ID2}, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]}}
      ins(%x : tensor<4x8xf32>) outs(%f : tensor<4x1xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %1 = arith.addf %a, %o : f32
    linalg.yield %1 : f32
  }} -> tensor<4x1xf32>
  return %r : tensor<4x1xf32>
}}""",
    [(4, 8)],
    lambda x: [x.sum(1, keepdims=True)],
)

SUM_ALL = Case(
    "sum_to_scalar",
    """
func.func @f(%x: tensor<3x5xf32>) -> tensor<f32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<f32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]}
      ins(%x : tensor<3x5xf32>) outs(%f : tensor<f32>) {
  ^bb0(%a: f32, %o: f32):
    %1 = arith.addf %a, %o : f32
    linalg.yield %1 : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}""",
    [(3, 5)],
    lambda x: [np.array(x.sum(), np.float32)],
)

MATMUL = Case(
    "matmul_relu",
    f"""
func.func @f(%a: tensor<5x7xf32>, %b: tensor<7x3xf32>) -> tensor<5x3xf32> {{
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<5x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<5x3xf32>) -> tensor<5x3xf32>
  %m = linalg.matmul ins(%a, %b : tensor<5x7xf32>, tensor<7x3xf32>) outs(%f : tensor<5x3xf32>) -> tensor<5x3xf32>
  %e2 = tensor.empty() : tensor<5x3xf32>
  %r = linalg.generic {{indexing_maps = [{ID2}, {ID2}], iterator_types = ["parallel", "parallel"]}}
      ins(%m : tensor<5x3xf32>) outs(%e2 : tensor<5x3xf32>) {{
  ^bb0(%x: f32, %o: f32):
    %1 = arith.maximumf %x, %zero : f32
    linalg.yield %1 : f32
  }} -> tensor<5x3xf32>
  return %r : tensor<5x3xf32>
}}""",
    [(5, 7), (7, 3)],
    lambda a, b: [np.maximum(a @ b, 0)],
)

BATCH_MATMUL = Case(
    "batch_matmul",
    """
func.func @f(%a: tensor<2x4x6xf32>, %b: tensor<2x6x3xf32>) -> tensor<2x4x3xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<2x4x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  %m = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<2x4x6xf32>, tensor<2x6x3xf32>) outs(%f : tensor<2x4x3xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %1 = arith.mulf %x, %y : f32
    %2 = arith.addf %o, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<2x4x3xf32>
  return %m : tensor<2x4x3xf32>
}""",
    [(2, 4, 6), (2, 6, 3)],
    lambda a, b: [a @ b],
)

TRANSPOSE_RESHAPE = Case(
    "transpose_reshape_views",
    """
func.func @f(%x: tensor<2x3x4xf32>) -> tensor<4x6xf32> {
  %e = tensor.empty() : tensor<4x3x2xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d1, d0)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<2x3x4xf32>) outs(%e : tensor<4x3x2xf32>) {
  ^bb0(%a: f32, %o: f32):
    %1 = math.absf %a : f32
    linalg.yield %1 : f32
  } -> tensor<4x3x2xf32>
  %c = tensor.collapse_shape %t [[0], [1, 2]] : tensor<4x3x2xf32> into tensor<4x6xf32>
  return %c : tensor<4x6xf32>
}""",
    [(2, 3, 4)],
    lambda x: [np.abs(x).transpose(2, 1, 0).reshape(4, 6)],
)

EXPAND_INPUT = Case(
    "expand_input_then_reduce",
    """
func.func @f(%x: tensor<12xf32>) -> (tensor<3x4xf32>, tensor<3xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  %v = tensor.expand_shape %x [[0, 1]] output_shape [3, 4] : tensor<12xf32> into tensor<3x4xf32>
  %e = tensor.empty() : tensor<3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3xf32>) -> tensor<3xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%v : tensor<3x4xf32>) outs(%f : tensor<3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %1 = arith.maximumf %a, %o : f32
    linalg.yield %1 : f32
  } -> tensor<3xf32>
  return %v, %r : tensor<3x4xf32>, tensor<3xf32>
}""",
    [(12,)],
    lambda x: [x.reshape(3, 4), np.maximum(x.reshape(3, 4).max(1), 0)],
)

CONCAT = Case(
    "concat_computed",
    f"""
func.func @f(%x: tensor<2x3xf32>, %y: tensor<2x5xf32>) -> tensor<2x8xf32> {{
  %e1 = tensor.empty() : tensor<2x3xf32>
  %a = linalg.generic {{indexing_maps = [{ID2}, {ID2}], iterator_types = ["parallel", "parallel"]}}
      ins(%x : tensor<2x3xf32>) outs(%e1 : tensor<2x3xf32>) {{
  ^bb0(%i: f32, %o: f32):
    %1 = math.exp %i : f32
    linalg.yield %1 : f32
  }} -> tensor<2x3xf32>
  %e2 = tensor.empty() : tensor<2x5xf32>
  %b = linalg.generic {{indexing_maps = [{ID2}, {ID2}], iterator_types = ["parallel", "parallel"]}}
      ins(%y : tensor<2x5xf32>) outs(%e2 : tensor<2x5xf32>) {{
  ^bb0(%i: f32, %o: f32):
    %1 = arith.negf %i : f32
    linalg.yield %1 : f32
  }} -> tensor<2x5xf32>
  %e = tensor.empty() : tensor<2x8xf32>
  %c0 = tensor.insert_slice %a into %e[0, 0] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<2x8xf32>
  %c1 = tensor.insert_slice %b into %c0[0, 3] [2, 5] [1, 1] : tensor<2x5xf32> into tensor<2x8xf32>
  return %c1 : tensor<2x8xf32>
}}""",
    [(2, 3), (2, 5)],
    lambda x, y: [np.concatenate([np.exp(x), -y], axis=1)],
)

PAD = Case(
    "pad_input",
    """
func.func @f(%x: tensor<2x3xf32>) -> tensor<4x6xf32> {
  %v = arith.constant -1.500000e+00 : f32
  %e = tensor.empty() : tensor<4x6xf32>
  %f = linalg.fill ins(%v : f32) outs(%e : tensor<4x6xf32>) -> tensor<4x6xf32>
  %p = tensor.insert_slice %x into %f[1, 2] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<4x6xf32>
  return %p : tensor<4x6xf32>
}""",
    [(2, 3)],
    lambda x: [np.pad(x, [(1, 1), (2, 1)], constant_values=-1.5)],
)

# xDSL 0.74 prints a multi-result linalg.generic as `-> (a, b)` but cannot parse that back, so
# this one is written in generic form (which both xDSL and mlir-opt read).
ARGMAX = Case(
    "argmax_two_outputs",
    """
func.func @f(%x: tensor<3x5xf32>) -> (tensor<3xf32>, tensor<3xi64>) {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0 : i64
  %e = tensor.empty() : tensor<3xf32>
  %fv = linalg.fill ins(%ninf : f32) outs(%e : tensor<3xf32>) -> tensor<3xf32>
  %ei = tensor.empty() : tensor<3xi64>
  %fi = linalg.fill ins(%zero : i64) outs(%ei : tensor<3xi64>) -> tensor<3xi64>
  %r:2 = "linalg.generic"(%x, %fv, %fi) <{indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = [#linalg.iterator_type<parallel>, #linalg.iterator_type<reduction>], operandSegmentSizes = array<i32: 1, 2>}> ({
  ^bb0(%a: f32, %best: f32, %idx: i64):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i64
    %gt = arith.cmpf ogt, %a, %best : f32
    %v = arith.select %gt, %a, %best : f32
    %i = arith.select %gt, %ji, %idx : i64
    linalg.yield %v, %i : f32, i64
  }) : (tensor<3x5xf32>, tensor<3xf32>, tensor<3xi64>) -> (tensor<3xf32>, tensor<3xi64>)
  return %r#0, %r#1 : tensor<3xf32>, tensor<3xi64>
}""",
    [(3, 5)],
    lambda x: [x.max(1), x.argmax(1).astype(np.int64)],
)

RETURN_INPUTS = Case(
    "returned_input_twice_and_slice",
    f"""
func.func @f(%x: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<2x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {{
  %s = tensor.extract_slice %x[1, 0] [2, 3] [1, 1] : tensor<4x3xf32> to tensor<2x3xf32>
  %e = tensor.empty() : tensor<4x3xf32>
  %y = linalg.generic {{indexing_maps = [{ID2}, {ID2}], iterator_types = ["parallel", "parallel"]}}
      ins(%x : tensor<4x3xf32>) outs(%e : tensor<4x3xf32>) {{
  ^bb0(%i: f32, %o: f32):
    %1 = arith.mulf %i, %i : f32
    linalg.yield %1 : f32
  }} -> tensor<4x3xf32>
  return %x, %s, %y, %y : tensor<4x3xf32>, tensor<2x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
}}""",
    [(4, 3)],
    lambda x: [x, x[1:3], x * x, x * x],
)

AVG_POOL_CONST = Case(
    "strided_window_with_constant",
    """
func.func @f(%x: tensor<2x9xf32>) -> tensor<2x4xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %w = arith.constant dense<[2.500000e-01, 5.000000e-01, 2.500000e-01]> : tensor<3xf32>
  %e = tensor.empty() : tensor<2x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1 * 2 + d2)>, affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x9xf32>, tensor<3xf32>) outs(%f : tensor<2x4xf32>) {
  ^bb0(%a: f32, %k: f32, %o: f32):
    %1 = arith.mulf %a, %k : f32
    %2 = arith.addf %o, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}""",
    [(2, 9)],
    lambda x: [np.stack([x[:, 2 * j : 2 * j + 3] @ np.array([0.25, 0.5, 0.25], np.float32) for j in range(4)], 1)],
)

SHARED_INIT = Case(
    "two_reductions_share_one_init",
    f"""
func.func @f(%x: tensor<3x4xf32>) -> (tensor<3xf32>, tensor<3xf32>) {{
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3xf32>) -> tensor<3xf32>
  %s = linalg.generic {{indexing_maps = [{ID2}, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}}
      ins(%x : tensor<3x4xf32>) outs(%f : tensor<3xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %1 = arith.addf %a, %o : f32
    linalg.yield %1 : f32
  }} -> tensor<3xf32>
  %m = linalg.generic {{indexing_maps = [{ID2}, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}}
      ins(%x : tensor<3x4xf32>) outs(%f : tensor<3xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %1 = arith.mulf %a, %a : f32
    %2 = arith.addf %1, %o : f32
    linalg.yield %2 : f32
  }} -> tensor<3xf32>
  return %s, %m : tensor<3xf32>, tensor<3xf32>
}}""",
    [(3, 4)],
    lambda x: [x.sum(1), (x * x).sum(1)],
)


def _unary_chain(n: int) -> str:
    lines = ["func.func @f(%x: tensor<6x5xf32>) -> tensor<6x5xf32> {", "  %one = arith.constant 1.000000e+00 : f32"]
    prev = "%x"
    for i in range(n):
        op = ("arith.addf", "arith.mulf", "arith.subf")[i % 3]
        lines += [
            f"  %e{i} = tensor.empty() : tensor<6x5xf32>",
            f"  %v{i} = linalg.generic {{indexing_maps = [{ID2}, {ID2}, {ID2}], iterator_types = "
            f'["parallel", "parallel"]}} ins({prev}, %x : tensor<6x5xf32>, tensor<6x5xf32>) '
            f"outs(%e{i} : tensor<6x5xf32>) {{",
            "  ^bb0(%a: f32, %b: f32, %o: f32):",
            f"    %1 = {op} %a, %b : f32",
            "    %2 = arith.addf %1, %one : f32",
            "    linalg.yield %2 : f32",
            "  } -> tensor<6x5xf32>",
        ]
        prev = f"%v{i}"
    lines += [f"  return {prev} : tensor<6x5xf32>", "}"]
    return "\n".join(lines)


def _chain_oracle(x: np.ndarray, n: int = 6) -> list[np.ndarray]:
    v = x
    for i in range(n):
        v = (v + x, v * x, v - x)[i % 3] + np.float32(1)
    return [v]


CHAIN = Case("elementwise_chain", _unary_chain(6), [(6, 5)], _chain_oracle)

# a returned value behind two reshapes: the output's inverse views must come in order (collapse, then expand)
RESHAPE_CHAIN = Case(
    "transpose_reshape_chain",
    """
func.func @f(%x: tensor<5x4xf64>) -> tensor<2x10xf64> {
  %e = tensor.empty() : tensor<4x5xf64>
  %t = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<5x4xf64>) outs(%e : tensor<4x5xf64>) {
  ^bb0(%a: f64, %o: f64):
    linalg.yield %a : f64
  } -> tensor<4x5xf64>
  %c = tensor.collapse_shape %t [[0, 1]] : tensor<4x5xf64> into tensor<20xf64>
  %r = tensor.expand_shape %c [[0, 1]] output_shape [2, 10] : tensor<20xf64> into tensor<2x10xf64>
  return %r : tensor<2x10xf64>
}""",
    [(5, 4)],
    lambda x: [x.T.reshape(2, 10)],
    ("float64",),
)

CASES = [
    ELEMENTWISE, SUM_KEEPDIM, SUM_ALL, MATMUL, BATCH_MATMUL, TRANSPOSE_RESHAPE, EXPAND_INPUT, CONCAT, PAD, ARGMAX,
    RETURN_INPUTS, AVG_POOL_CONST, SHARED_INIT, CHAIN, RESHAPE_CHAIN,
]  # fmt: skip
