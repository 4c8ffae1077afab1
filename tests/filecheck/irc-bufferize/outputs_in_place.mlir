// RUN: irc opt %s -p irc-bufferize | filecheck %s

// The returned value's producer writes the output argument; the intermediate
// matmul result gets an aligned allocation; no copy anywhere.

// CHECK:      func.func @f(%a: memref<5x7xf32>, %b: memref<7x3xf32>, %out: memref<5x3xf32>) attributes {irc.num_outputs = 1 : i64} {
// CHECK:        %[[ACC:.*]] = memref.alloc() {alignment = 64 : i64} : memref<5x3xf32>
// CHECK-NEXT:   linalg.fill ins(%{{.*}} : f32) outs(%[[ACC]] : memref<5x3xf32>)
// CHECK-NEXT:   linalg.matmul ins(%a, %b : memref<5x7xf32>, memref<7x3xf32>) outs(%[[ACC]] : memref<5x3xf32>)
// CHECK-NEXT:   linalg.generic {{.*}} ins(%[[ACC]] : memref<5x3xf32>) outs(%out : memref<5x3xf32>)
// CHECK-NOT:    memref.copy
// CHECK:        func.return
func.func @f(%a: tensor<5x7xf32>, %b: tensor<7x3xf32>) -> tensor<5x3xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<5x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<5x3xf32>) -> tensor<5x3xf32>
  %m = linalg.matmul ins(%a, %b : tensor<5x7xf32>, tensor<7x3xf32>) outs(%f : tensor<5x3xf32>) -> tensor<5x3xf32>
  %e2 = tensor.empty() : tensor<5x3xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%m : tensor<5x3xf32>) outs(%e2 : tensor<5x3xf32>) {
  ^bb0(%x: f32, %o: f32):
    %1 = arith.maximumf %x, %zero : f32
    linalg.yield %1 : f32
  } -> tensor<5x3xf32>
  return %r : tensor<5x3xf32>
}
