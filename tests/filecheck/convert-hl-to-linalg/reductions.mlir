// RUN: irc opt %s -p convert-hl-to-linalg | filecheck %s

// sum with keepdim: fill 0, a reduction generic into the kept dims, then expand_shape.
// CHECK-LABEL: func.func @sum_keepdim
// CHECK:         %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[I:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%{{.*}} : tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:    %[[S:.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<2x3xf32>) outs(%[[I]] : tensor<2xf32>)
// CHECK:           arith.addf
// CHECK:         tensor.expand_shape %[[S]] {{\[}}[0 : i64, 1 : i64]] output_shape [2, 1] : tensor<2xf32> into tensor<2x1xf32>
func.func @sum_keepdim(%x: tensor<2x3xf32>) -> tensor<2x1xf32> {
  %0 = hl.sum %x {dims = array<i64: 1>, keepdim = true} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  func.return %0 : tensor<2x1xf32>
}

// max starts at -inf (a scalar constant), min of i32 at INT32_MAX.
// CHECK-LABEL: func.func @max_min
// CHECK:         arith.constant 0xff800000 : f32
// CHECK:         arith.maximumf
// CHECK:         arith.constant 2147483647 : i32
// CHECK:         arith.minsi
func.func @max_min(%x: tensor<2x3xf32>, %y: tensor<4xi32>) -> (tensor<f32>, tensor<i32>) {
  %0 = hl.max %x {dims = array<i64: 0, 1>, keepdim = false} : (tensor<2x3xf32>) -> tensor<f32>
  %1 = hl.min %y {dims = array<i64: 0>, keepdim = false} : (tensor<4xi32>) -> tensor<i32>
  func.return %0, %1 : tensor<f32>, tensor<i32>
}

// argmax: one generic with two outputs (running max, its index); strict > keeps the first.
// CHECK-LABEL: func.func @argmax
// CHECK:         %{{.*}}, %[[IDX:.*]] = linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<2xf32>, tensor<2xi64>)
// CHECK:           arith.cmpf ogt
// CHECK:           linalg.index 1 : index
// CHECK:           arith.index_cast
// CHECK:         } -> (tensor<2xf32>, tensor<2xi64>)
// CHECK:         func.return %[[IDX]] : tensor<2xi64>
func.func @argmax(%x: tensor<2x3xf32>) -> tensor<2xi64> {
  %0 = hl.argmax %x {dim = 1, keepdim = false} : (tensor<2x3xf32>) -> tensor<2xi64>
  func.return %0 : tensor<2xi64>
}
