// RUN: irc opt %s -p convert-hl-to-linalg | filecheck %s

// CHECK-LABEL: func.func @creation
// CHECK:         arith.constant dense<{{\[}}[1.000000e+00, -2.500000e+00], [3.000000e+00, 5.000000e-01]]> : tensor<2x2xf32>
// CHECK:         %[[V:.*]] = arith.constant 7 : i32
// CHECK-NEXT:    linalg.fill ins(%[[V]] : i32) outs(%{{.*}} : tensor<4xi32>)
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<2x3xf32>)
// CHECK-NEXT:    ^{{.*}}(%{{.*}}: f32):
// CHECK-NEXT:      %[[I:.*]] = linalg.index 1 : index
// CHECK-NEXT:      %[[J:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK-NEXT:      %[[F:.*]] = arith.sitofp %[[J]] : i64 to f32
// CHECK-NEXT:      linalg.yield %[[F]] : f32
func.func @creation() -> (tensor<2x2xf32>, tensor<4xi32>, tensor<2x3xf32>) {
  %0 = hl.constant {value = dense<[[1.0, -2.5], [3.0, 0.5]]> : tensor<2x2xf32>} : tensor<2x2xf32>
  %1 = hl.full {value = 7.0 : f64} : tensor<4xi32>
  %2 = hl.iota {dim = 1} : tensor<2x3xf32>
  func.return %0, %1, %2 : tensor<2x2xf32>, tensor<4xi32>, tensor<2x3xf32>
}
