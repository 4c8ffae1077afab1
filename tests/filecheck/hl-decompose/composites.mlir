// RUN: irc opt %s -p hl-decompose | filecheck %s

// relu = select(x <= 0, 0, x): relu'(0) = 0 by the select, relu(nan) = nan
// CHECK-LABEL: func.func @relu
// CHECK-NEXT:    %[[Z:.*]] = hl.full {value = 0.000000e+00 : f64} : tensor<f32>
// CHECK-NEXT:    %[[C:.*]] = hl.compare %x, %[[Z]] {predicate = "le"}
// CHECK-NEXT:    %[[Z2:.*]] = hl.full {value = 0.000000e+00 : f64} : tensor<f32>
// CHECK-NEXT:    %[[R:.*]] = hl.select %[[C]], %[[Z2]], %x
// CHECK-NEXT:    func.return %[[R]]
func.func @relu(%x: tensor<5xf32>) -> tensor<5xf32> {
  %r = hl.relu %x : (tensor<5xf32>) -> tensor<5xf32>
  func.return %r : tensor<5xf32>
}

// sigmoid with exp(-|x|) only: e = exp(select(x > 0, -x, x)), r = 1 / (1 + e), select(x > 0, r, e * r)
// CHECK-LABEL: func.func @sigmoid
// CHECK:         %[[P:.*]] = hl.compare %x, %{{.*}} {predicate = "gt"}
// CHECK-NEXT:    %[[N:.*]] = hl.neg %x
// CHECK-NEXT:    %[[A:.*]] = hl.select %[[P]], %[[N]], %x
// CHECK-NEXT:    %[[E:.*]] = hl.exp %[[A]]
// CHECK:         %[[D:.*]] = hl.add %[[E]], %{{.*}}
// CHECK:         %[[R:.*]] = hl.div %{{.*}}, %[[D]]
// CHECK-NEXT:    %[[ER:.*]] = hl.mul %[[E]], %[[R]]
// CHECK-NEXT:    %[[Y:.*]] = hl.select %[[P]], %[[R]], %[[ER]]
// CHECK-NEXT:    func.return %[[Y]]
func.func @sigmoid(%x: tensor<5xf64>) -> tensor<5xf64> {
  %r = hl.sigmoid %x : (tensor<5xf64>) -> tensor<5xf64>
  func.return %r : tensor<5xf64>
}

// rsqrt = 1 / sqrt(x)
// CHECK-LABEL: func.func @rsqrt
// CHECK-NEXT:    %[[S:.*]] = hl.sqrt %x
// CHECK-NEXT:    %[[ONE:.*]] = hl.full {value = 1.000000e+00 : f64} : tensor<f32>
// CHECK-NEXT:    %[[R:.*]] = hl.div %[[ONE]], %[[S]]
// CHECK-NEXT:    func.return %[[R]]
func.func @rsqrt(%x: tensor<5xf32>) -> tensor<5xf32> {
  %r = hl.rsqrt %x : (tensor<5xf32>) -> tensor<5xf32>
  func.return %r : tensor<5xf32>
}

// mean = sum / n (over no elements 0 / 0 = nan)
// CHECK-LABEL: func.func @mean
// CHECK-NEXT:    %[[S:.*]] = hl.sum %x {dims = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
// CHECK-NEXT:    %[[N:.*]] = hl.full {value = 2.000000e+00 : f64} : tensor<f32>
// CHECK-NEXT:    %[[R:.*]] = hl.div %[[S]], %[[N]]
// CHECK-NEXT:    func.return %[[R]]
// CHECK-NOT:     hl.relu
// CHECK-NOT:     hl.sigmoid
// CHECK-NOT:     hl.rsqrt
// CHECK-NOT:     hl.mean
func.func @mean(%x: tensor<2x3xf32>) -> tensor<3xf32> {
  %r = hl.mean %x {dims = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
  func.return %r : tensor<3xf32>
}
