// RUN: irc opt %s -p buffer-reuse | filecheck %s

// %b0 is dead once %b1 has been computed, so %b2 takes it over; %b1 stays
// live until the last op, so nothing may take it.

// CHECK:      func.func @f(%x: memref<8xf32>, %out: memref<8xf32>) attributes {irc.num_outputs = 1 : i64} {
// CHECK-NEXT:   %b0 = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%x : memref<8xf32>) outs(%b0 : memref<8xf32>)
// CHECK:        %b1 = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%b0 : memref<8xf32>) outs(%b1 : memref<8xf32>)
// CHECK-NOT:    memref.alloc
// CHECK:        linalg.generic {{.*}} ins(%b1 : memref<8xf32>) outs(%b0 : memref<8xf32>)
// CHECK:        linalg.generic {{.*}} ins(%b0, %b1 : memref<8xf32>, memref<8xf32>) outs(%out : memref<8xf32>)
#id = affine_map<(d0) -> (d0)>
func.func @f(%x: memref<8xf32>, %out: memref<8xf32>) attributes {irc.num_outputs = 1 : i64} {
  %b0 = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : memref<8xf32>) outs(%b0 : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %1 = math.exp %a : f32
    linalg.yield %1 : f32
  }
  %b1 = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%b0 : memref<8xf32>) outs(%b1 : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %1 = math.tanh %a : f32
    linalg.yield %1 : f32
  }
  %b2 = memref.alloc() {alignment = 64 : i64} : memref<8xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%b1 : memref<8xf32>) outs(%b2 : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %1 = arith.negf %a : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]} ins(%b2, %b1 : memref<8xf32>, memref<8xf32>) outs(%out : memref<8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %1 = arith.addf %a, %b : f32
    linalg.yield %1 : f32
  }
  func.return
}
