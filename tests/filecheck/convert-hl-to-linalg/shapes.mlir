// RUN: irc opt %s -p convert-hl-to-linalg | filecheck %s

// CHECK-LABEL: func.func @reshapes
// CHECK:         tensor.collapse_shape %x {{\[}}[0 : i64, 1 : i64], [2 : i64]] : tensor<2x3x4xf32> into tensor<6x4xf32>
// CHECK:         tensor.collapse_shape %{{.*}} : tensor<6x4xf32> into tensor<24xf32>
// CHECK-NEXT:    tensor.expand_shape %{{.*}} output_shape [4, 6] : tensor<24xf32> into tensor<4x6xf32>
func.func @reshapes(%x: tensor<2x3x4xf32>) -> tensor<4x6xf32> {
  %0 = hl.reshape %x {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %1 = hl.reshape %0 {shape = array<i64: 4, 6>} : (tensor<6x4xf32>) -> tensor<4x6xf32>
  func.return %1 : tensor<4x6xf32>
}

// CHECK-LABEL: func.func @transpose
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d1, d2, d0)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>]
func.func @transpose(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %0 = hl.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  func.return %0 : tensor<4x2x3xf32>
}

// Unit steps are an extract_slice; other steps an extract_slice of the box the slice spans and a
// generic reading step * i of it.
// CHECK-LABEL: func.func @slices
// CHECK:         tensor.extract_slice %x[1, 2] [3, 4] [1, 1] : tensor<5x6xf32> to tensor<3x4xf32>
// CHECK:         %[[BOX:.*]] = tensor.extract_slice %x[1, 0] [3, 4] [1, 1] : tensor<5x6xf32> to tensor<3x4xf32>
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> ((d0 * 2), (d1 * 3))>, affine_map<(d0, d1) -> (d0, d1)>]
// CHECK-SAME:    ins(%[[BOX]] : tensor<3x4xf32>)
func.func @slices(%x: tensor<5x6xf32>) -> (tensor<3x4xf32>, tensor<2x2xf32>) {
  %0 = hl.slice %x {start = array<i64: 1, 2>, stop = array<i64: 4, 6>, step = array<i64: 1, 1>} : (tensor<5x6xf32>) -> tensor<3x4xf32>
  %1 = hl.slice %x {start = array<i64: 1, 0>, stop = array<i64: 5, 6>, step = array<i64: 2, 3>} : (tensor<5x6xf32>) -> tensor<2x2xf32>
  func.return %0, %1 : tensor<3x4xf32>, tensor<2x2xf32>
}

// CHECK-LABEL: func.func @concat_pad
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<2x4xf32>
// CHECK-NEXT:    %[[C0:.*]] = tensor.insert_slice %a into %[[E]][0, 0] [2, 3] [1, 1]
// CHECK-NEXT:    tensor.insert_slice %b into %[[C0]][0, 3] [2, 1] [1, 1]
// CHECK:         %[[V:.*]] = arith.constant 1.500000e+00 : f32
// CHECK-NEXT:    %[[F:.*]] = linalg.fill ins(%[[V]] : f32) outs(%{{.*}} : tensor<3x6xf32>)
// CHECK-NEXT:    tensor.insert_slice %a into %[[F]][1, 1] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<3x6xf32>
func.func @concat_pad(%a: tensor<2x3xf32>, %b: tensor<2x1xf32>) -> (tensor<2x4xf32>, tensor<3x6xf32>) {
  %0 = hl.concat %a, %b {dim = -1} : (tensor<2x3xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
  %1 = hl.pad %a {low = array<i64: 1, 1>, high = array<i64: 0, 2>, value = 1.5 : f64} : (tensor<2x3xf32>) -> tensor<3x6xf32>
  func.return %0, %1 : tensor<2x4xf32>, tensor<3x6xf32>
}

// CHECK-LABEL: func.func @broadcast_to
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d1, 0)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>]
func.func @broadcast_to(%x: tensor<3x1xf32>) -> tensor<2x3x4xf32> {
  %0 = hl.broadcast_to %x {shape = array<i64: 2, 3, 4>} : (tensor<3x1xf32>) -> tensor<2x3x4xf32>
  func.return %0 : tensor<2x3x4xf32>
}

// A gather reads its source with tensor.extract at the loaded index (clamped into range) along `dim`.
// CHECK-LABEL: func.func @gather
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%i : tensor<4x3xi64>)
// CHECK:           arith.index_cast %{{.*}} : i64 to index
// CHECK:           arith.maxsi
// CHECK:           arith.minsi
// CHECK:           %[[J:.*]] = linalg.index 1 : index
// CHECK-NEXT:      tensor.extract %x[%{{.*}}, %[[J]]] : tensor<6x3xf32>
func.func @gather(%x: tensor<6x3xf32>, %i: tensor<4x3xi64>) -> tensor<4x3xf32> {
  %0 = hl.gather %x, %i {dim = 0} : (tensor<6x3xf32>, tensor<4x3xi64>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// A scatter is a generic over (x's dims, j) into a copy of x: each element combines the src entries
// whose index equals its position along `dim` (compare, then select the combined value).
// CHECK-LABEL: func.func @scatter
// CHECK:         %[[COPY:.*]] = linalg.generic {{.*}} ins(%x : tensor<6x3xf32>)
// CHECK:         linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%i, %s : tensor<4x3xi64>, tensor<4x3xf32>) outs(%[[COPY]] : tensor<6x3xf32>)
// CHECK:           arith.index_cast %{{.*}} : i64 to index
// CHECK:           linalg.index 0 : index
// CHECK:           arith.cmpi eq
// CHECK:           arith.maximumf
// CHECK:           arith.select
func.func @scatter(%x: tensor<6x3xf32>, %i: tensor<4x3xi64>, %s: tensor<4x3xf32>) -> tensor<6x3xf32> {
  %0 = hl.scatter %x, %i, %s {dim = 0, reduce = "amax"} : (tensor<6x3xf32>, tensor<4x3xi64>, tensor<4x3xf32>) -> tensor<6x3xf32>
  func.return %0 : tensor<6x3xf32>
}

// A sum scatter with one index row (index_add) is x + (one_hot(index) ? src : 0) summed: a contraction the
// targets tile, selecting rather than multiplying (0 * inf would make other rows nan).
// CHECK-LABEL: func.func @index_add
// CHECK:         %[[HOT:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4xi64>) outs(%{{.*}} : tensor<6x4xi1>)
// CHECK:           arith.cmpi eq
// CHECK:         linalg.generic {{.*}} ins(%[[HOT]], %s : tensor<6x4xi1>, tensor<4x3xf32>)
// CHECK:           arith.select
// CHECK-NOT:       arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic {{.*}} ins(%x, %{{.*}} : tensor<6x3xf32>, tensor<6x3xf32>)
func.func @index_add(%x: tensor<6x3xf32>, %i: tensor<4x1xi64>, %s: tensor<4x3xf32>) -> tensor<6x3xf32> {
  %0 = hl.scatter %x, %i, %s {dim = 0} : (tensor<6x3xf32>, tensor<4x1xi64>, tensor<4x3xf32>) -> tensor<6x3xf32>
  func.return %0 : tensor<6x3xf32>
}
