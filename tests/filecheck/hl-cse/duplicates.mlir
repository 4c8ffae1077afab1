// RUN: irc opt %s -p hl-cse | filecheck %s

// CHECK-LABEL: func.func @f
// CHECK-NEXT:    %[[E:.*]] = hl.exp %x
// CHECK-NEXT:    %[[S:.*]] = hl.sum %[[E]] {dims = array<i64: 0>, keepdim = false}
// CHECK-NEXT:    %[[K:.*]] = hl.sum %[[E]] {dims = array<i64: 0>, keepdim = true}
// CHECK-NEXT:    %[[A:.*]] = hl.add %[[S]], %[[S]]
// CHECK-NEXT:    %[[B:.*]] = hl.add %[[K]], %[[A]]
// CHECK-NEXT:    func.return %[[B]]
func.func @f(%x: tensor<2x3xf32>) -> tensor<1x3xf32> {
  %e0 = hl.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %e1 = hl.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %0 = hl.sum %e0 {dims = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
  %1 = hl.sum %e1 {dims = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
  %2 = hl.sum %e1 {dims = array<i64: 0>, keepdim = true} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  %3 = hl.add %0, %1 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %4 = hl.add %2, %3 : (tensor<1x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  func.return %4 : tensor<1x3xf32>
}
