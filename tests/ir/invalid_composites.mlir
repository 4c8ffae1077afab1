// The composites (hl.softmax, hl.log_softmax, hl.mean, hl.argsort) ill-formed, as invalid.mlir: these cases go with
// the ops.

func.func @f(%x: tensor<4x3xi32>) -> tensor<4x3xi32> {
  // expected-error @+1 {{hl.softmax: expects a floating-point tensor (operands: 4x3xi32)}}
  %0 = hl.softmax %x : (tensor<4x3xi32>) -> tensor<4x3xi32>
  func.return %0 : tensor<4x3xi32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.log_softmax: dim 2 out of range for rank 2 (operands: 4x3xf32)}}
  %0 = hl.log_softmax %x {dim = 2 : i64} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.softmax: attribute 'dim' must be an i64 integer, got array<i64: 1>}}
  %0 = hl.softmax %x {dim = array<i64: 1>} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{hl.mean: expects a floating-point tensor (operands: 4x3xi32)}}
  %0 = hl.mean %x {dims = array<i64: 1>} : (tensor<4x3xi32>) -> tensor<4xi32>
  func.return %0 : tensor<4xi32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x4xi64> {
  // expected-error @+1 {{hl.argsort: k = 4 out of range [0, 3] for the last dim (operands: 4x3xf32)}}
  %0 = hl.argsort %x {k = 4 : i64} : (tensor<4x3xf32>) -> tensor<4x4xi64>
  func.return %0 : tensor<4x4xi64>
}

// -----

func.func @f(%x: tensor<f32>) -> tensor<i64> {
  // expected-error @+1 {{hl.argsort: expects a tensor of rank >= 1 (it sorts the last dim) (operands: f32)}}
  %0 = hl.argsort %x : (tensor<f32>) -> tensor<i64>
  func.return %0 : tensor<i64>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.argsort: result type 4x3xf32 does not match the inferred 4x3xi64 (operands: 4x3xf32)}}
  %0 = hl.argsort %x {descending = true} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}
