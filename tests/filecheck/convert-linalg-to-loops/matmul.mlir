// RUN: irc opt %s -p convert-linalg-to-loops | filecheck %s

// The fill is one parallel nest; the matmul a parallel nest over (i, j) around
// an scf.for over k that loads the accumulator, adds and stores it back.

// CHECK:      func.func @f(%a: memref<4x6xf32>, %b: memref<6x3xf32>, %out: memref<4x3xf32>) attributes {irc.num_outputs = 1 : i64} {
// CHECK-DAG:    %c0 = arith.constant 0 : index
// CHECK-DAG:    %c1 = arith.constant 1 : index
// CHECK-DAG:    %c4 = arith.constant 4 : index
// CHECK-DAG:    %c3 = arith.constant 3 : index
// CHECK-DAG:    %c6 = arith.constant 6 : index
// CHECK:        "scf.parallel"(%c0, %c0, %c4, %c3, %c1, %c1)
// CHECK-NEXT:   ^bb{{[0-9]+}}(%d0: index, %d1: index):
// CHECK-NEXT:     memref.store %cst, %out[%d0, %d1] : memref<4x3xf32>
// CHECK-NEXT:     scf.reduce
// CHECK:        "scf.parallel"(%c0, %c0, %c4, %c3, %c1, %c1)
// CHECK-NEXT:   ^bb{{[0-9]+}}(%d0_1: index, %d1_1: index):
// CHECK-NEXT:     scf.for %d2 = %c0 to %c6 step %c1 {
// CHECK-NEXT:       %[[X:.*]] = memref.load %a[%d0_1, %d2] : memref<4x6xf32>
// CHECK-NEXT:       %[[Y:.*]] = memref.load %b[%d2, %d1_1] : memref<6x3xf32>
// CHECK-NEXT:       %[[ACC:.*]] = memref.load %out[%d0_1, %d1_1] : memref<4x3xf32>
// CHECK-NEXT:       %[[P:.*]] = arith.mulf %[[X]], %[[Y]] : f32
// CHECK-NEXT:       %[[S:.*]] = arith.addf %[[P]], %[[ACC]] : f32
// CHECK-NEXT:       memref.store %[[S]], %out[%d0_1, %d1_1] : memref<4x3xf32>
// CHECK-NEXT:     }
// CHECK-NEXT:     scf.reduce
// CHECK-NOT:    linalg.
func.func @f(%a: memref<4x6xf32>, %b: memref<6x3xf32>, %out: memref<4x3xf32>) attributes {irc.num_outputs = 1 : i64} {
  %cst = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%cst : f32) outs(%out : memref<4x3xf32>)
  linalg.matmul ins(%a, %b : memref<4x6xf32>, memref<6x3xf32>) outs(%out : memref<4x3xf32>)
  func.return
}
