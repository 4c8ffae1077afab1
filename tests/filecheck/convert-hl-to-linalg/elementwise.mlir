// RUN: irc opt %s -p convert-hl-to-linalg | filecheck %s

// Broadcasting is in the indexing maps: the 3-vector reads (d1), the 4x1 column reads (d0, 0).
// CHECK-LABEL: func.func @add_broadcast
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<4x3xf32>
// CHECK-NEXT:    %{{.*}} = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%a, %b : tensor<3xf32>, tensor<4x1xf32>) outs(%[[E]] : tensor<4x3xf32>)
// CHECK:           arith.addf
// CHECK-NOT:     hl.
func.func @add_broadcast(%a: tensor<3xf32>, %b: tensor<4x1xf32>) -> tensor<4x3xf32> {
  %0 = hl.add %a, %b : (tensor<3xf32>, tensor<4x1xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// Integer division truncates (divsi) and x / 0 gives x, like the hl reference.
// CHECK-LABEL: func.func @int_ops
// CHECK:         arith.cmpi eq
// CHECK-NEXT:    arith.constant 1 : i32
// CHECK-NEXT:    arith.select
// CHECK-NEXT:    arith.divsi
// CHECK:         arith.cmpi slt
func.func @int_ops(%a: tensor<6xi32>, %b: tensor<6xi32>) -> (tensor<6xi32>, tensor<6xi1>) {
  %0 = hl.div %a, %b : (tensor<6xi32>, tensor<6xi32>) -> tensor<6xi32>
  %1 = hl.compare %a, %b {predicate = "lt"} : (tensor<6xi32>, tensor<6xi32>) -> tensor<6xi1>
  func.return %0, %1 : tensor<6xi32>, tensor<6xi1>
}

// Float compares are ordered, except ne (NaN != NaN holds in numpy); casts follow numpy's astype.
// CHECK-LABEL: func.func @compare_cast_select
// CHECK:         arith.cmpf oge
// CHECK:         arith.cmpf une
// CHECK:         arith.fptosi %{{.*}} : f32 to i32
// CHECK:         arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
func.func @compare_cast_select(%a: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xi1>, tensor<4xi1>, tensor<4xi32>, tensor<4xf32>) {
  %0 = hl.compare %a, %b {predicate = "ge"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %1 = hl.compare %a, %b {predicate = "ne"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %2 = hl.cast %a : (tensor<4xf32>) -> tensor<4xi32>
  %3 = hl.select %0, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0, %1, %2, %3 : tensor<4xi1>, tensor<4xi1>, tensor<4xi32>, tensor<4xf32>
}

// Float floor_divide rounds as Python, numpy and PyTorch: the exact remainder (remf) corrects the
// quotient (1.0 // 0.1 is 9); integer x // 0 gives x, like hl.div; bool xor / not are xori.
// CHECK-LABEL: func.func @floor_divide_bitwise
// CHECK:         arith.remf
// CHECK:         math.floor
// CHECK:         math.copysign
// CHECK:         arith.cmpi eq
// CHECK-NEXT:    arith.constant 1 : i64
// CHECK-NEXT:    arith.select
// CHECK-NEXT:    arith.floordivsi
// CHECK:         arith.xori %{{.*}}, %{{.*}} : i1
// CHECK:         %[[T:.*]] = arith.constant true
// CHECK-NEXT:    arith.xori %{{.*}}, %[[T]] : i1
func.func @floor_divide_bitwise(%a: tensor<4xf32>, %b: tensor<4xf32>, %i: tensor<4xi64>, %j: tensor<4xi64>, %p: tensor<4xi1>, %q: tensor<4xi1>) -> (tensor<4xf32>, tensor<4xi64>, tensor<4xi1>, tensor<4xi1>) {
  %0 = hl.floor_divide %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = hl.floor_divide %i, %j : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %2 = hl.bitwise_xor %p, %q : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  %3 = hl.bitwise_not %p : (tensor<4xi1>) -> tensor<4xi1>
  func.return %0, %1, %2, %3 : tensor<4xf32>, tensor<4xi64>, tensor<4xi1>, tensor<4xi1>
}
