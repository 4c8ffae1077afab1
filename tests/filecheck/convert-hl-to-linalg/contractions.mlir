// RUN: irc opt %s -p convert-hl-to-linalg | filecheck %s

// CHECK-LABEL: func.func @matmul_2d
// CHECK:         %[[I:.*]] = linalg.fill
// CHECK-NEXT:    linalg.matmul ins(%a, %b : tensor<4x3xf32>, tensor<3x5xf32>) outs(%[[I]] : tensor<4x5xf32>)
func.func @matmul_2d(%a: tensor<4x3xf32>, %b: tensor<3x5xf32>) -> tensor<4x5xf32> {
  %0 = hl.matmul %a, %b : (tensor<4x3xf32>, tensor<3x5xf32>) -> tensor<4x5xf32>
  func.return %0 : tensor<4x5xf32>
}

// Batched with a broadcast batch dim: one generic over (b0, b1, m, n, k).
// CHECK-LABEL: func.func @matmul_batched
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, 0, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d1, d4, d3)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK:           arith.mulf
// CHECK-NEXT:      arith.addf
func.func @matmul_batched(%a: tensor<2x1x4x3xf32>, %b: tensor<3x3x5xf32>) -> tensor<2x3x4x5xf32> {
  %0 = hl.matmul %a, %b : (tensor<2x1x4x3xf32>, tensor<3x3x5xf32>) -> tensor<2x3x4x5xf32>
  func.return %0 : tensor<2x3x4x5xf32>
}

// conv2d: zero padding via fill + insert_slice; groups pick the input channel (o floordiv 3) * 2 + c.
// CHECK-LABEL: func.func @conv2d
// CHECK:         %[[P:.*]] = tensor.insert_slice %x into %{{.*}}[0, 0, 1, 1] [1, 4, 5, 5] [1, 1, 1, 1] : tensor<1x4x5x5xf32> into tensor<1x4x7x7xf32>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, (((d1 floordiv 3) * 2) + d4), ((d2 * 2) + d5), ((d3 * 2) + d6))>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[P]], %w
func.func @conv2d(%x: tensor<1x4x5x5xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x6x3x3xf32> {
  %0 = hl.conv2d %x, %w {groups = 2, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : (tensor<1x4x5x5xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x3x3xf32>
  func.return %0 : tensor<1x6x3x3xf32>
}

// max pooling pads with -inf; an empty 3x3 tensor gives the window loops their bounds.
// CHECK-LABEL: func.func @max_pool
// CHECK:         arith.constant 0xff800000 : f32
// CHECK:         %[[P:.*]] = tensor.insert_slice %x
// CHECK:         %[[W:.*]] = tensor.empty() : tensor<3x3xf32>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, ((d2 * 2) + d4), ((d3 * 2) + d5))>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>]{{.*}} ins(%[[P]], %[[W]]
// CHECK:           arith.maximumf
func.func @max_pool(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32> {
  %0 = hl.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : (tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32>
  func.return %0 : tensor<1x4x3x3xf32>
}

// avg pooling: sum of the zero-padded window, then divide by the window size (padding counts).
// CHECK-LABEL: func.func @avg_pool
// CHECK:           arith.addf
// CHECK:         arith.constant 6.000000e+00 : f32
// CHECK-NEXT:    arith.divf
func.func @avg_pool(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x3x5xf32> {
  %0 = hl.avg_pool2d %x {kernel = array<i64: 2, 3>, stride = array<i64: 2, 1>, padding = array<i64: 1, 1>} : (tensor<1x4x5x5xf32>) -> tensor<1x4x3x5xf32>
  func.return %0 : tensor<1x4x3x5xf32>
}
