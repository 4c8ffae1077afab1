// RUN: irc opt %s -p linalg-fuse-elementwise | filecheck %s

// The producer reads a broadcast (constant-0) map and a strided map; both compose into the consumer.
// CHECK-LABEL: func.func @compose_maps
// CHECK-NEXT:    %[[E:.*]] = tensor.empty() : tensor<4x3xf32>
// CHECK-NEXT:    %{{.*}} = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, (d1 * 2))>, affine_map<(d0, d1) -> (0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%s, %b : tensor<4x6xf32>, tensor<1x3xf32>) outs(%[[E]] : tensor<4x3xf32>)
// CHECK-NEXT:    ^{{.*}}(%[[S:.*]]: f32, %[[B:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:      %[[N:.*]] = arith.negf %[[B]] : f32
// CHECK-NEXT:      %[[R:.*]] = arith.subf %[[S]], %[[N]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
// CHECK-NOT:     tensor.empty
func.func @compose_maps(%b: tensor<1x3xf32>, %s: tensor<4x6xf32>) -> tensor<4x3xf32> {
  %e0 = tensor.empty() : tensor<4x3xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<1x3xf32>) outs(%e0 : tensor<4x3xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.negf %x : f32
    linalg.yield %y : f32
  } -> tensor<4x3xf32>
  %e1 = tensor.empty() : tensor<4x3xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1 * 2)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%s, %n : tensor<4x6xf32>, tensor<4x3xf32>) outs(%e1 : tensor<4x3xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %d = arith.subf %a, %c : f32
    linalg.yield %d : f32
  } -> tensor<4x3xf32>
  func.return %r : tensor<4x3xf32>
}
