func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %0 = hl.frobnicate %x : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}
