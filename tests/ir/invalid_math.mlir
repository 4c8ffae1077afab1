// Ill-formed uses of the everyday math ops (issue 12), in the format of invalid.mlir.

func.func @f(%x: tensor<4x3xi32>) -> tensor<4x3xi32> {
  // expected-error @+1 {{hl.floor: expects a floating-point tensor (operands: 4x3xi32)}}
  %0 = hl.floor %x : (tensor<4x3xi32>) -> tensor<4x3xi32>
  func.return %0 : tensor<4x3xi32>
}

// -----

func.func @f(%x: tensor<4x3xi64>) -> tensor<4x3xi64> {
  // expected-error @+1 {{hl.atan2: expects floating-point tensors (operands: 4x3xi64, 4x3xi64)}}
  %0 = hl.atan2 %x, %x : (tensor<4x3xi64>, tensor<4x3xi64>) -> tensor<4x3xi64>
  func.return %0 : tensor<4x3xi64>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %y: tensor<4x3xf64>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.fmod: operand dtypes differ (operands: 4x3xf32, 4x3xf64)}}
  %0 = hl.fmod %x, %y : (tensor<4x3xf32>, tensor<4x3xf64>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}
