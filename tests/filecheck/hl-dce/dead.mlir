// RUN: irc opt %s -p hl-dce | filecheck %s

// CHECK-LABEL: func.func @f
// CHECK-NEXT:    %[[E:.*]] = hl.exp %x
// CHECK-NEXT:    func.return %[[E]]
func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %e = hl.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %dead0 = hl.tanh %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %dead1 = hl.mul %dead0, %e : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %e : tensor<2x3xf32>
}
