// RUN: irc opt %s -p hl-decompose | filecheck %s

// softmax along dim 1: stable form exp(x - max) / sum(exp(x - max))
// CHECK-LABEL: func.func @softmax
// CHECK-NEXT:    %[[M:.*]] = hl.max %x {dims = array<i64: 1>, keepdim = true} : (tensor<2x5xf32>) -> tensor<2x1xf32>
// CHECK-NEXT:    %[[S:.*]] = hl.sub %x, %[[M]] : (tensor<2x5xf32>, tensor<2x1xf32>) -> tensor<2x5xf32>
// CHECK-NEXT:    %[[E:.*]] = hl.exp %[[S]] : (tensor<2x5xf32>) -> tensor<2x5xf32>
// CHECK-NEXT:    %[[Z:.*]] = hl.sum %[[E]] {dims = array<i64: 1>, keepdim = true} : (tensor<2x5xf32>) -> tensor<2x1xf32>
// CHECK-NEXT:    %[[R:.*]] = hl.div %[[E]], %[[Z]] : (tensor<2x5xf32>, tensor<2x1xf32>) -> tensor<2x5xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @softmax(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %r = hl.softmax %x {dim = -1} : (tensor<2x5xf32>) -> tensor<2x5xf32>
  func.return %r : tensor<2x5xf32>
}

// log_softmax along dim 0: (x - max) - log(sum(exp(x - max)))
// CHECK-LABEL: func.func @log_softmax
// CHECK-NEXT:    %[[M:.*]] = hl.max %x {dims = array<i64: 0>, keepdim = true} : (tensor<2x5xf32>) -> tensor<1x5xf32>
// CHECK-NEXT:    %[[S:.*]] = hl.sub %x, %[[M]]
// CHECK-NEXT:    %[[E:.*]] = hl.exp %[[S]]
// CHECK-NEXT:    %[[Z:.*]] = hl.sum %[[E]] {dims = array<i64: 0>, keepdim = true}
// CHECK-NEXT:    %[[L:.*]] = hl.log %[[Z]] : (tensor<1x5xf32>) -> tensor<1x5xf32>
// CHECK-NEXT:    %[[R:.*]] = hl.sub %[[S]], %[[L]] : (tensor<2x5xf32>, tensor<1x5xf32>) -> tensor<2x5xf32>
// CHECK-NEXT:    func.return %[[R]]
// CHECK-NOT:   hl.softmax
// CHECK-NOT:   hl.log_softmax
func.func @log_softmax(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %r = hl.log_softmax %x {dim = 0} : (tensor<2x5xf32>) -> tensor<2x5xf32>
  func.return %r : tensor<2x5xf32>
}
