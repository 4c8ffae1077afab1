// RUN: irc opt %s -p hl-autodiff | filecheck %s
// RUN: irc opt %s -p "hl-autodiff{wrt=1 return_primals=true}" | filecheck %s --check-prefix=WRT

// The forward function stays; @loss_grad follows it and returns d sum / d x, d sum / d w.
// CHECK-LABEL: func.func @loss(
// CHECK:       func.func @loss_grad(%x: tensor<2x3xf32>, %w: tensor<3xf32>, %n: tensor<2xi64>) -> (tensor<2x3xf32>, tensor<3xf32>)
// CHECK:         %[[Y:.*]] = hl.tanh
// CHECK:         %[[ONE:.*]] = hl.full {value = 1.000000e+00 : f64} : tensor<f32>
// CHECK-NEXT:    %[[SEED:.*]] = hl.broadcast_to %[[ONE]] {shape = array<i64: 2, 3>}
// tanh' = 1 - y * y
// CHECK-NEXT:    %[[YY:.*]] = hl.mul %[[Y]], %[[Y]]
// CHECK:         %[[DTANH:.*]] = hl.sub %{{.*}}, %[[YY]]
// CHECK-NEXT:    %[[G:.*]] = hl.mul %[[SEED]], %[[DTANH]]
// mul: dx = g * w, dw = sum over the broadcast dim of g * x
// CHECK-NEXT:    %[[DX:.*]] = hl.mul %[[G]], %w
// CHECK-NEXT:    %[[GX:.*]] = hl.mul %[[G]], %x
// CHECK-NEXT:    %[[DW:.*]] = hl.sum %[[GX]] {dims = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
// CHECK-NEXT:    func.return %[[DX]], %[[DW]] : tensor<2x3xf32>, tensor<3xf32>

// WRT:       func.func @loss_grad(%x: tensor<2x3xf32>, %w: tensor<3xf32>, %n: tensor<2xi64>) -> (tensor<f32>, tensor<3xf32>)
// WRT:         %[[LOSS:.*]] = hl.sum %{{.*}} {dims = array<i64: 0, 1>}
// WRT-NOT:     hl.mul %{{.*}}, %w :
// WRT:         func.return %[[LOSS]], %{{.*}} : tensor<f32>, tensor<3xf32>
func.func @loss(%x: tensor<2x3xf32>, %w: tensor<3xf32>, %n: tensor<2xi64>) -> tensor<f32> {
  %0 = hl.mul %x, %w : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = hl.tanh %0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = hl.sum %1 {dims = array<i64: 0, 1>} : (tensor<2x3xf32>) -> tensor<f32>
  func.return %2 : tensor<f32>
}
