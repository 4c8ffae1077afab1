// RUN: irc opt %s -p convert-hl-to-linalg,irc-bufferize | filecheck %s

// A gather's tensor.extract becomes a memref.load of its source's buffer, and counts as a read of
// that buffer where the generic holding it stands: the neg before the gather must not overwrite %e.

// CHECK-LABEL: func.func @gather_reads_its_source
// CHECK:         %[[E:.*]] = memref.alloc() {alignment = 64 : i64} : memref<6x3xf32>
// CHECK:           math.exp
// CHECK:         %[[N:.*]] = memref.alloc() {alignment = 64 : i64} : memref<6x3xf32>
// CHECK:         ins(%[[E]] : memref<6x3xf32>) outs(%[[N]] : memref<6x3xf32>)
// CHECK:           arith.negf
// CHECK:         ins(%i : memref<4x3xi64>) outs(%out : memref<4x3xf32>)
// CHECK:           memref.load %[[E]][%{{.*}}, %{{.*}}] : memref<6x3xf32>
// CHECK-NOT:     tensor.extract
func.func @gather_reads_its_source(%x: tensor<6x3xf32>, %i: tensor<4x3xi64>) -> (tensor<4x3xf32>, tensor<6x3xf32>) {
  %e = hl.exp %x : (tensor<6x3xf32>) -> tensor<6x3xf32>
  %n = hl.neg %e : (tensor<6x3xf32>) -> tensor<6x3xf32>
  %g = hl.gather %e, %i {dim = 0} : (tensor<6x3xf32>, tensor<4x3xi64>) -> tensor<4x3xf32>
  %s = hl.sin %n : (tensor<6x3xf32>) -> tensor<6x3xf32>
  func.return %g, %s : tensor<4x3xf32>, tensor<6x3xf32>
}
