// RUN: irc opt %s -p convert-linalg-to-loops | filecheck %s

// A `d1 * 2 + d2` input map becomes index arithmetic; the unused output block
// argument of an elementwise op is not loaded; memref.copy is a nest too.

// CHECK:        "scf.parallel"(%c0, %c0, %c2, %c4, %c1, %c1)
// CHECK-NEXT:   ^bb{{[0-9]+}}(%d0: index, %d1: index):
// CHECK-NEXT:     scf.for %d2 = %c0 to %c3 step %c1 {
// CHECK-NEXT:       %[[M:.*]] = arith.muli %d1, %c2 : index
// CHECK-NEXT:       %[[I:.*]] = arith.addi %[[M]], %d2 : index
// CHECK-NEXT:       memref.load %x[%d0, %[[I]]] : memref<2x9xf32>
// CHECK-NEXT:       memref.load %w[%d2] : memref<3xf32>
// CHECK-NEXT:       memref.load %out[%d0, %d1] : memref<2x4xf32>
// CHECK:        "scf.parallel"(%c0, %c0, %c2, %c4, %c1, %c1)
// CHECK-NEXT:   ^bb{{[0-9]+}}(%d0_1: index, %d1_1: index):
// CHECK-NEXT:     %[[V:.*]] = memref.load %out[%d0_1, %d1_1] : memref<2x4xf32>
// CHECK-NEXT:     %[[E:.*]] = math.exp %[[V]] : f32
// CHECK-NEXT:     memref.store %[[E]], %out_1[%d0_1, %d1_1] : memref<2x4xf32>
// CHECK:        "scf.parallel"(%c0, %c0, %c2, %c4, %c1, %c1)
// CHECK-NEXT:   ^bb{{[0-9]+}}(%d0_2: index, %d1_2: index):
// CHECK-NEXT:     %[[C:.*]] = memref.load %out_1[%d0_2, %d1_2] : memref<2x4xf32>
// CHECK-NEXT:     memref.store %[[C]], %out_2[%d0_2, %d1_2] : memref<2x4xf32>
func.func @f(%x: memref<2x9xf32>, %w: memref<3xf32>, %out: memref<2x4xf32>, %out_1: memref<2x4xf32>, %out_2: memref<2x4xf32>) attributes {irc.num_outputs = 3 : i64} {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1 * 2 + d2)>, affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<2x9xf32>, memref<3xf32>) outs(%out : memref<2x4xf32>) {
  ^bb0(%a: f32, %k: f32, %o: f32):
    %1 = arith.mulf %a, %k : f32
    %2 = arith.maximumf %1, %o : f32
    linalg.yield %2 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%out : memref<2x4xf32>) outs(%out_1 : memref<2x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %1 = math.exp %a : f32
    linalg.yield %1 : f32
  }
  "memref.copy"(%out_1, %out_2) : (memref<2x4xf32>, memref<2x4xf32>) -> ()
  func.return
}
