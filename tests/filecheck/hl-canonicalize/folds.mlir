// RUN: irc opt %s -p hl-canonicalize | filecheck %s

// CHECK-LABEL: func.func @reshape_chain
// CHECK-NEXT:    %[[R:.*]] = hl.reshape %x {shape = array<i64: 2, 6>} : (tensor<4x3xf32>) -> tensor<2x6xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @reshape_chain(%x: tensor<4x3xf32>) -> tensor<2x6xf32> {
  %0 = hl.reshape %x {shape = array<i64: 12>} : (tensor<4x3xf32>) -> tensor<12xf32>
  %1 = hl.reshape %0 {shape = array<i64: 2, 6>} : (tensor<12xf32>) -> tensor<2x6xf32>
  func.return %1 : tensor<2x6xf32>
}

// CHECK-LABEL: func.func @transposes_cancel
// CHECK-NEXT:    func.return %x
func.func @transposes_cancel(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = hl.transpose %x {perm = array<i64: 1, 2, 0>} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %1 = hl.transpose %0 {perm = array<i64: 2, 0, 1>} : (tensor<3x4x2xf32>) -> tensor<2x3x4xf32>
  func.return %1 : tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @transpose_chain
// CHECK-NEXT:    %[[T:.*]] = hl.transpose %x {perm = array<i64: 2, 1, 0>} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
// CHECK-NEXT:    func.return %[[T]]
func.func @transpose_chain(%x: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %0 = hl.transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %1 = hl.transpose %0 {perm = array<i64: 2, 0, 1>} : (tensor<3x2x4xf32>) -> tensor<4x3x2xf32>
  func.return %1 : tensor<4x3x2xf32>
}

// CHECK-LABEL: func.func @identities_and_neutral_operands
// CHECK-NEXT:    func.return %x
func.func @identities_and_neutral_operands(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %z = hl.full {value = 0.0 : f64} : tensor<3xf32>
  %o = hl.constant {value = dense<1.0> : tensor<4x3xf32>} : tensor<4x3xf32>
  %0 = hl.broadcast_to %x {shape = array<i64: 4, 3>} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  %1 = hl.cast %0 : (tensor<4x3xf32>) -> tensor<4x3xf32>
  %2 = hl.add %z, %1 : (tensor<3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %3 = hl.mul %2, %o : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %4 = hl.div %3, %o : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %4 : tensor<4x3xf32>
}

// A zero that broadcasts x to a bigger shape is not neutral; 0 - x is not x.
// CHECK-LABEL: func.func @kept
// CHECK:         hl.add
// CHECK:         hl.sub
func.func @kept(%x: tensor<3xf32>) -> (tensor<4x3xf32>, tensor<3xf32>) {
  %z = hl.full {value = 0.0 : f64} : tensor<4x3xf32>
  %0 = hl.add %x, %z : (tensor<3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %y = hl.full {value = 0.0 : f64} : tensor<3xf32>
  %1 = hl.sub %y, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %0, %1 : tensor<4x3xf32>, tensor<3xf32>
}
