// RUN: irc opt %s -p irc-bufferize | filecheck %s

// Concatenated producers write straight into subviews of the output; a
// returned input is the one value that needs a copy.

// CHECK:      func.func @f(%x: memref<2x3xf32>, %y: memref<2x5xf32>, %out: memref<2x8xf32>, %out_1: memref<2x3xf32>) attributes {irc.num_outputs = 2 : i64} {
// CHECK-NEXT:   %[[L:.*]] = memref.subview %out[0, 0] [2, 3] [1, 1] : memref<2x8xf32> to memref<2x3xf32, strided<[8, 1]>>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%x : memref<2x3xf32>) outs(%[[L]] : memref<2x3xf32, strided<[8, 1]>>)
// CHECK:        %[[R:.*]] = memref.subview %out[0, 3] [2, 5] [1, 1] : memref<2x8xf32> to memref<2x5xf32, strided<[8, 1], offset: 3>>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%y : memref<2x5xf32>) outs(%[[R]] : memref<2x5xf32, strided<[8, 1], offset: 3>>)
// CHECK-NOT:    memref.alloc
// CHECK:        "memref.copy"(%x, %out_1)
// CHECK-NEXT:   func.return
func.func @f(%x: tensor<2x3xf32>, %y: tensor<2x5xf32>) -> (tensor<2x8xf32>, tensor<2x3xf32>) {
  %e1 = tensor.empty() : tensor<2x3xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x3xf32>) outs(%e1 : tensor<2x3xf32>) {
  ^bb0(%i: f32, %o: f32):
    %1 = math.exp %i : f32
    linalg.yield %1 : f32
  } -> tensor<2x3xf32>
  %e2 = tensor.empty() : tensor<2x5xf32>
  %b = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<2x5xf32>) outs(%e2 : tensor<2x5xf32>) {
  ^bb0(%i: f32, %o: f32):
    %1 = arith.negf %i : f32
    linalg.yield %1 : f32
  } -> tensor<2x5xf32>
  %e = tensor.empty() : tensor<2x8xf32>
  %c0 = tensor.insert_slice %a into %e[0, 0] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<2x8xf32>
  %c1 = tensor.insert_slice %b into %c0[0, 3] [2, 5] [1, 1] : tensor<2x5xf32> into tensor<2x8xf32>
  return %c1, %x : tensor<2x8xf32>, tensor<2x3xf32>
}
