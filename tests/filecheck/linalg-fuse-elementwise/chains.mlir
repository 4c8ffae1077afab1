// RUN: irc opt %s -p hl-decompose,convert-hl-to-linalg,linalg-fuse-elementwise | filecheck %s

// relu(x * y + x), relu decomposed to select(a <= 0, 0, a): one generic, inputs x and y once each (the
// repeated x is merged) and the two rank-0 zeros, one output.
// CHECK-LABEL: func.func @relu_mul_add
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<4x3xf32>
// CHECK-NEXT:    %[[R:.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> ()>, affine_map<(d0, d1) -> ()>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %y, %{{.*}}, %{{.*}} : tensor<4x3xf32>, tensor<3xf32>, tensor<f32>, tensor<f32>) outs(%[[E]] : tensor<4x3xf32>)
// CHECK-NEXT:    ^{{.*}}(%[[X:.*]]: f32, %[[Y:.*]]: f32, %[[Z0:.*]]: f32, %[[Z1:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:      %[[M:.*]] = arith.mulf %[[X]], %[[Y]] : f32
// CHECK-NEXT:      %[[A:.*]] = arith.addf %[[M]], %[[X]] : f32
// CHECK-NEXT:      %[[C:.*]] = arith.cmpf ole, %[[A]], %[[Z0]] : f32
// CHECK-NEXT:      %[[V:.*]] = arith.select %[[C]], %[[Z1]], %[[A]] : f32
// CHECK-NEXT:      linalg.yield %[[V]] : f32
// CHECK-NEXT:    } -> tensor<4x3xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @relu_mul_add(%x: tensor<4x3xf32>, %y: tensor<3xf32>) -> tensor<4x3xf32> {
  %0 = hl.mul %x, %y : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %1 = hl.add %0, %x : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %2 = hl.relu %1 : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %2 : tensor<4x3xf32>
}

// An elementwise producer fuses into a reduction that reads each element once: sum(exp(x)).
// CHECK-LABEL: func.func @sum_exp
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%x : tensor<2x3xf32>)
// CHECK-NEXT:    ^{{.*}}(%[[X:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT:      %[[E:.*]] = math.exp %[[X]] : f32
// CHECK-NEXT:      arith.addf %[[E]], %[[ACC]] : f32
// CHECK-NOT:     linalg.generic
func.func @sum_exp(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  %0 = hl.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = hl.sum %0 {dims = array<i64: 1>, keepdim = false} : (tensor<2x3xf32>) -> tensor<2xf32>
  func.return %1 : tensor<2xf32>
}

// A transposed producer composes its map; iota's linalg.index follows the consumer's loops.
// CHECK-LABEL: func.func @transpose_iota
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>]
// CHECK:           linalg.index 0 : index
// CHECK:           arith.addf
// CHECK-NOT:     linalg.generic
func.func @transpose_iota(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = hl.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = hl.iota {dim = 0} : tensor<3x2xf32>
  %2 = hl.add %0, %1 : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  func.return %2 : tensor<3x2xf32>
}

// A producer with two consumers is not duplicated; a reduction producer is not fused.
// CHECK-LABEL: func.func @not_fused
// CHECK:         %[[EXP:.*]] = linalg.generic
// CHECK-NEXT:    ^{{.*}}
// CHECK-NEXT:      math.exp
// CHECK:         linalg.generic {{.*}} ins(%[[EXP]], %[[EXP]] :
// CHECK:           arith.addf
// CHECK:         linalg.generic {{.*}} ins(%[[EXP]], %x :
// CHECK:           arith.mulf
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:         linalg.generic
// CHECK:           arith.divf
func.func @not_fused(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) {
  %0 = hl.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = hl.add %0, %0 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = hl.mul %0, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = hl.mean %x {dims = array<i64: 1>, keepdim = false} : (tensor<2x3xf32>) -> tensor<2xf32>
  func.return %1, %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>
}

// Two uses of one producer by the same consumer still fuse: each element is computed once.
// CHECK-LABEL: func.func @shared_inside_one_consumer
// CHECK:         linalg.generic
// CHECK:           math.exp
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      arith.mulf
// CHECK-NOT:     linalg.generic
func.func @shared_inside_one_consumer(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = hl.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = hl.add %0, %0 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = hl.mul %0, %1 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %2 : tensor<2x3xf32>
}

// A broadcast (keepdim + expand) feeding a reduction over the broadcast dim is not fused:
// the fused generic would read only (d0, 0) and leave the reduced loop d1 without a bound.
// CHECK-LABEL: func.func @expand_then_sum
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
func.func @expand_then_sum(%x: tensor<2x1xf32>) -> tensor<2xf32> {
  %0 = hl.broadcast_to %x {shape = array<i64: 2, 5>} : (tensor<2x1xf32>) -> tensor<2x5xf32>
  %1 = hl.sum %0 {dims = array<i64: 1>, keepdim = false} : (tensor<2x5xf32>) -> tensor<2xf32>
  func.return %1 : tensor<2xf32>
}

// The same broadcast does fuse into an elementwise consumer, whose output map bounds every loop.
// CHECK-LABEL: func.func @expand_then_exp
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
// CHECK-NEXT:    ^{{.*}}(%[[X:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:      math.exp %[[X]] : f32
// CHECK-NOT:     linalg.generic
func.func @expand_then_exp(%x: tensor<2x1xf32>) -> tensor<2x5xf32> {
  %0 = hl.broadcast_to %x {shape = array<i64: 2, 5>} : (tensor<2x1xf32>) -> tensor<2x5xf32>
  %1 = hl.exp %0 : (tensor<2x5xf32>) -> tensor<2x5xf32>
  func.return %1 : tensor<2x5xf32>
}

// A fill of an integer constant read by a generic is that constant in the body (the exponent of x ** 3:
// the code generator multiplies); float constants stay inputs (see @relu_mul_add).
// CHECK-LABEL: func.func @int_power
// CHECK-NOT:     linalg.fill
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<4xi64>)
// CHECK-NEXT:    ^{{.*}}(%[[X:.*]]: i64, %{{.*}}: i64):
// CHECK-NEXT:      %[[C:.*]] = arith.constant 3 : i64
// CHECK-NEXT:      math.ipowi %[[X]], %[[C]] : i64
func.func @int_power(%x: tensor<4xi64>) -> tensor<4xi64> {
  %c = hl.full {value = 3 : i64} : tensor<i64>
  %0 = hl.pow %x, %c : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
  func.return %0 : tensor<4xi64>
}
