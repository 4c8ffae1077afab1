// RUN: irc opt %s -p hl-canonicalize | filecheck %s

// Zero-size tensors: whatever reads or writes them is a constant, so no kernel loops over nothing.

// CHECK-LABEL: func.func @empty_result
// CHECK-NEXT:    %[[F:.*]] = hl.full {value = 0.000000e+00 : f64} : tensor<0x3xf32>
// CHECK-NEXT:    func.return %[[F]]
func.func @empty_result(%x: tensor<0x3xf32>) -> tensor<0x3xf32> {
  %0 = hl.exp %x : (tensor<0x3xf32>) -> tensor<0x3xf32>
  func.return %0 : tensor<0x3xf32>
}

// CHECK-LABEL: func.func @reductions_of_nothing
// CHECK-NEXT:    %[[S:.*]] = hl.full {value = 0.000000e+00 : f64} : tensor<3xf32>
// CHECK-NEXT:    %[[P:.*]] = hl.full {value = 1.000000e+00 : f64} : tensor<3xf32>
// CHECK-NEXT:    %[[M:.*]] = hl.full {value = 0x7ff8000000000000 : f64} : tensor<1x3xf32>
// CHECK-NEXT:    func.return %[[S]], %[[P]], %[[M]]
func.func @reductions_of_nothing(%x: tensor<0x3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<1x3xf32>) {
  %0 = hl.sum %x {dims = array<i64: 0>, keepdim = false} : (tensor<0x3xf32>) -> tensor<3xf32>
  %1 = hl.prod %x {dims = array<i64: 0>, keepdim = false} : (tensor<0x3xf32>) -> tensor<3xf32>
  %2 = hl.mean %x {dims = array<i64: -2>, keepdim = true} : (tensor<0x3xf32>) -> tensor<1x3xf32>
  func.return %0, %1, %2 : tensor<3xf32>, tensor<3xf32>, tensor<1x3xf32>
}

// CHECK-LABEL: func.func @contractions_over_nothing
// CHECK-NEXT:    %[[MM:.*]] = hl.full {value = 0.000000e+00 : f64} : tensor<2x3xf32>
// CHECK-NEXT:    %[[C:.*]] = hl.full {value = 0.000000e+00 : f64} : tensor<1x4x3x3xf32>
// CHECK-NEXT:    func.return %[[MM]], %[[C]]
func.func @contractions_over_nothing(%a: tensor<2x0xf32>, %b: tensor<0x3xf32>, %x: tensor<1x0x5x5xf32>, %w: tensor<4x0x3x3xf32>) -> (tensor<2x3xf32>, tensor<1x4x3x3xf32>) {
  %0 = hl.matmul %a, %b : (tensor<2x0xf32>, tensor<0x3xf32>) -> tensor<2x3xf32>
  %1 = hl.conv2d %x, %w : (tensor<1x0x5x5xf32>, tensor<4x0x3x3xf32>) -> tensor<1x4x3x3xf32>
  func.return %0, %1 : tensor<2x3xf32>, tensor<1x4x3x3xf32>
}

// CHECK-LABEL: func.func @pad_and_concat
// CHECK-NEXT:    %[[P:.*]] = hl.full {value = 2.500000e+00 : f64} : tensor<2xf32>
// CHECK-NEXT:    %[[C:.*]] = hl.concat %a, %b {dim = 1 : i64} : (tensor<2x1xf32>, tensor<2x3xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:    func.return %[[P]], %[[C]], %b
func.func @pad_and_concat(%e: tensor<0xf32>, %a: tensor<2x1xf32>, %z: tensor<2x0xf32>, %b: tensor<2x3xf32>) -> (tensor<2xf32>, tensor<2x4xf32>, tensor<2x3xf32>) {
  %0 = hl.pad %e {low = array<i64: 1>, high = array<i64: 1>, value = 2.5 : f64} : (tensor<0xf32>) -> tensor<2xf32>
  %1 = hl.concat %a, %z, %b {dim = 1 : i64} : (tensor<2x1xf32>, tensor<2x0xf32>, tensor<2x3xf32>) -> tensor<2x4xf32>
  %2 = hl.concat %z, %b {dim = -1 : i64} : (tensor<2x0xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %0, %1, %2 : tensor<2xf32>, tensor<2x4xf32>, tensor<2x3xf32>
}
