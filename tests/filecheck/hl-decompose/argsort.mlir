// RUN: irc opt %s -p hl-decompose | filecheck %s

// argsort by ranks along the last dim (i1 compared as i32): rank_i = sum_j [x_j before x_i or
// (x_j ties x_i and j < i)], then index_k = sum_i i * [rank_i == k] for the first k slots
// CHECK-LABEL: func.func @argsort
// CHECK-NEXT:    %[[X:.*]] = hl.cast %x : (tensor<2x4xi1>) -> tensor<2x4xi32>
// CHECK-NEXT:    %[[J:.*]] = hl.reshape %[[X]] {shape = array<i64: 2, 1, 4>}
// CHECK-NEXT:    %[[I:.*]] = hl.reshape %[[X]] {shape = array<i64: 2, 4, 1>}
// CHECK-NEXT:    %[[B:.*]] = hl.compare %[[J]], %[[I]] {predicate = "gt"}
// CHECK-NEXT:    %[[T:.*]] = hl.compare %[[J]], %[[I]] {predicate = "eq"}
// CHECK-NEXT:    %[[C1:.*]] = hl.iota {dim = 1 : i64} : tensor<4x4xi64>
// CHECK-NEXT:    %[[C0:.*]] = hl.iota {dim = 0 : i64} : tensor<4x4xi64>
// CHECK-NEXT:    %[[E:.*]] = hl.compare %[[C1]], %[[C0]] {predicate = "lt"}
// CHECK-NEXT:    %[[TE:.*]] = hl.bitwise_and %[[T]], %[[E]]
// CHECK-NEXT:    %[[BE:.*]] = hl.bitwise_or %[[B]], %[[TE]]
// CHECK-NEXT:    %[[BI:.*]] = hl.cast %[[BE]] : (tensor<2x4x4xi1>) -> tensor<2x4x4xi64>
// CHECK-NEXT:    %[[RANK:.*]] = hl.sum %[[BI]] {dims = array<i64: -1>, keepdim = false} : (tensor<2x4x4xi64>) -> tensor<2x4xi64>
// CHECK-NEXT:    %[[RJ:.*]] = hl.reshape %[[RANK]] {shape = array<i64: 2, 1, 4>}
// CHECK-NEXT:    %[[K:.*]] = hl.iota {dim = 0 : i64} : tensor<2x1xi64>
// CHECK-NEXT:    %[[HIT:.*]] = hl.compare %[[RJ]], %[[K]] {predicate = "eq"} : (tensor<2x1x4xi64>, tensor<2x1xi64>) -> tensor<2x2x4xi1>
// CHECK-NEXT:    %[[H:.*]] = hl.cast %[[HIT]]
// CHECK-NEXT:    %[[IDX:.*]] = hl.iota {dim = 1 : i64} : tensor<1x4xi64>
// CHECK-NEXT:    %[[M:.*]] = hl.mul %[[H]], %[[IDX]]
// CHECK-NEXT:    %[[R:.*]] = hl.sum %[[M]] {dims = array<i64: -1>, keepdim = false} : (tensor<2x2x4xi64>) -> tensor<2x2xi64>
// CHECK-NEXT:    func.return %[[R]]
func.func @argsort(%x: tensor<2x4xi1>) -> tensor<2x2xi64> {
  %r = hl.argsort %x {descending = true, k = 2 : i64} : (tensor<2x4xi1>) -> tensor<2x2xi64>
  func.return %r : tensor<2x2xi64>
}

// floats: NaN after every number (ascending), NaNs tie with each other
// CHECK-LABEL: func.func @argsort_nan
// CHECK:         %[[J:.*]] = hl.reshape %x {shape = array<i64: 1, 3>}
// CHECK-NEXT:    %[[I:.*]] = hl.reshape %x {shape = array<i64: 3, 1>}
// CHECK-NEXT:    %[[LT:.*]] = hl.compare %[[J]], %[[I]] {predicate = "lt"}
// CHECK-NEXT:    %[[NI:.*]] = hl.compare %[[I]], %[[I]] {predicate = "ne"}
// CHECK-NEXT:    %[[NJ:.*]] = hl.compare %[[J]], %[[J]] {predicate = "ne"}
// CHECK-NEXT:    %[[NUM:.*]] = hl.bitwise_not %[[NJ]]
// CHECK-NEXT:    %[[A:.*]] = hl.bitwise_and %[[NI]], %[[NUM]]
// CHECK-NEXT:    %[[B:.*]] = hl.bitwise_or %[[LT]], %[[A]]
// CHECK-NEXT:    %[[EQ:.*]] = hl.compare %[[J]], %[[I]] {predicate = "eq"}
// CHECK-NEXT:    %[[NN:.*]] = hl.bitwise_and %[[NI]], %[[NJ]]
// CHECK-NEXT:    %[[T:.*]] = hl.bitwise_or %[[EQ]], %[[NN]]
// CHECK-NOT:     hl.argsort
func.func @argsort_nan(%x: tensor<3xf64>) -> tensor<3xi64> {
  %r = hl.argsort %x : (tensor<3xf64>) -> tensor<3xi64>
  func.return %r : tensor<3xi64>
}
