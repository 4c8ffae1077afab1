// Ill-formed hl programs and the exact error each one gives (MLIR's invalid.mlir): cases are split at
// `// -----`; `// expected-error @+1 {{TEXT}}` says that the op on the next line fails with TEXT.
// Run by test_invalid.py, through irc.ir and through `irc opt`.

// ---- the syntax of an op

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.add: Expected 2 operands, but got 1}}
  %0 = hl.add %x : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.exp: Expected 1 result type, but got 2}}
  %0 = hl.exp %x : (tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>)
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.exp: operand and result types must be tensors (f32 should be of base attribute tensor)}}
  %0 = hl.exp %x : (tensor<4x3xf32>) -> f32
  func.return %x : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.neg: Expected 1 operand, but got 2}}
  %0 = "hl.neg"(%x, %x) : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> f32 {
  // expected-error @+1 {{hl.neg: expected tensor types, got f32}}
  %0 = "hl.neg"(%x) : (tensor<4x3xf32>) -> f32
  func.return %0 : f32
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{Operation hl.frobnicate is not registered}}
  %0 = hl.frobnicate %x : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xi16>) -> tensor<4x3xi16> {
  // expected-error @+1 {{hl.exp: unsupported element type i16; hl supports f32, f64, f16, bf16, i32, i64, i1}}
  %0 = hl.exp %x : (tensor<4x3xi16>) -> tensor<4x3xi16>
  func.return %0 : tensor<4x3xi16>
}

// -----

// ---- attributes (every op checks names, kinds and required ones the same way: test_invalid.py generates
// those cases for every op; these are a few with their whole text)

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.neg: unknown attribute 'perm' (known: none)}}
  %0 = hl.neg %x {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4xi64> {
  // expected-error @+1 {{hl.argmin: unknown attribute 'dims' (known: dim, keepdim)}}
  %0 = hl.argmin %x {dims = array<i64: 1>} : (tensor<4x3xf32>) -> tensor<4xi64>
  func.return %0 : tensor<4xi64>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{hl.transpose: attribute 'perm' must be an i64 array (array<i64: ...>), got array<i32: 1, 0>}}
  %0 = hl.transpose %x {perm = array<i32: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x1xf32> {
  // expected-error @+1 {{hl.prod: attribute 'keepdim' must be a bool (true or false), got 1 : i64}}
  %0 = hl.prod %x {dims = array<i64: 1>, keepdim = 1} : (tensor<4x3xf32>) -> tensor<4x1xf32>
  func.return %0 : tensor<4x1xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{hl.reshape: missing attribute 'shape'}}
  %0 = hl.reshape %x : (tensor<4x3xf32>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xi1> {
  // expected-error @+1 {{hl.compare: missing attribute 'predicate'}}
  %0 = hl.compare %x, %x : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xi1>
  func.return %0 : tensor<4x3xi1>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xi1> {
  // expected-error @+1 {{hl.compare: attribute 'predicate' must be a string, got 1 : i64}}
  %0 = hl.compare %x, %x {predicate = 1} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xi1>
  func.return %0 : tensor<4x3xi1>
}

// -----

func.func @f(%x: tensor<4x5xf32>) -> tensor<4x5xf32> {
  // expected-error @+1 {{hl.pad: attribute 'value' must be an f64 float, got "zero"}}
  %0 = hl.pad %x {low = array<i64: 0, 1>, high = array<i64: 0, 1>, value = "zero"} : (tensor<4x5xf32>) -> tensor<4x7xf32>
  func.return %x : tensor<4x5xf32>
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{hl.conv2d: attribute 'stride' must be an i64 pair (array<i64: h, w>), got array<i64: 1, 1, 1>}}
  %0 = hl.conv2d %x, %w {stride = array<i64: 1, 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @f(%x: tensor<1x2x8x8xf32>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{hl.max_pool2d: missing attribute 'stride'}}
  %0 = hl.max_pool2d %x {kernel = array<i64: 2, 2>} : (tensor<1x2x8x8xf32>) -> tensor<1x2x4x4xf32>
  func.return %0 : tensor<1x2x4x4xf32>
}

// -----

func.func @f() -> tensor<4xf32> {
  // expected-error @+1 {{hl.constant: attribute 'value' must be a dense tensor, got 3 : i64}}
  %0 = hl.constant {value = 3} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

func.func @f() -> tensor<4xf32> {
  // expected-error @+1 {{hl.full: attribute 'value' must be a number (an f64 float, an i64 integer or a bool), got 1.500000e+00 : f32}}
  %0 = hl.full {value = 1.5 : f32} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

func.func @f() -> tensor<4x3xi64> {
  // expected-error @+1 {{hl.iota: attribute 'dim' must be an i64 integer, got 1.000000e+00 : f64}}
  %0 = hl.iota {dim = 1.0} : tensor<4x3xi64>
  func.return %0 : tensor<4x3xi64>
}

// -----

// ---- elementwise unary

func.func @f(%x: tensor<4x3xi32>) -> tensor<4x3xi32> {
  // expected-error @+1 {{hl.exp: expects a floating-point tensor (operands: 4x3xi32)}}
  %0 = hl.exp %x : (tensor<4x3xi32>) -> tensor<4x3xi32>
  func.return %0 : tensor<4x3xi32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{hl.neg: result type 3x4xf32 does not match the inferred 4x3xf32 (operands: 4x3xf32)}}
  %0 = hl.neg %x : (tensor<4x3xf32>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.bitwise_not: expects an integer or bool tensor (operands: 4x3xf32)}}
  %0 = hl.bitwise_not %x : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<3x4xi32> {
  // expected-error @+1 {{hl.cast: shape changes from 4x3xf32 to 3x4xi32}}
  %0 = hl.cast %x : (tensor<4x3xf32>) -> tensor<3x4xi32>
  func.return %0 : tensor<3x4xi32>
}

// -----

// ---- elementwise binary, compare, select

func.func @f(%x: tensor<4x3xf32>, %y: tensor<5xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.add: shapes do not broadcast (operands: 4x3xf32, 5xf32)}}
  %0 = hl.add %x, %y : (tensor<4x3xf32>, tensor<5xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %y: tensor<4x3xf64>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.mul: operand dtypes differ (operands: 4x3xf32, 4x3xf64)}}
  %0 = hl.mul %x, %y : (tensor<4x3xf32>, tensor<4x3xf64>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.bitwise_and: expects integer or bool tensors (operands: 4x3xf32, 4x3xf32)}}
  %0 = hl.bitwise_and %x, %x : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4xi1>) -> tensor<4xi1> {
  // expected-error @+1 {{hl.shift_left: expects integer tensors (operands: 4xi1, 4xi1)}}
  %0 = hl.shift_left %x, %x : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  func.return %0 : tensor<4xi1>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xi1> {
  // expected-error @+1 {{hl.compare: unknown predicate 'lq' (known: eq, ne, lt, le, gt, ge) (operands: 4x3xf32, 4x3xf32)}}
  %0 = hl.compare %x, %x {predicate = "lq"} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xi1>
  func.return %0 : tensor<4x3xi1>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.compare: result type 4x3xf32 does not match the inferred 4x3xi1 (operands: 4x3xf32, 4x3xf32)}}
  %0 = hl.compare %x, %x {predicate = "lt"} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%c: tensor<4x3xf32>, %x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.select: condition must be i1 (operands: 4x3xf32, 4x3xf32, 4x3xf32)}}
  %0 = hl.select %c, %x, %x : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%c: tensor<4x3xi1>, %x: tensor<4x3xf32>, %y: tensor<4x3xi64>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.select: value dtypes differ (operands: 4x3xi1, 4x3xf32, 4x3xi64)}}
  %0 = hl.select %c, %x, %y : (tensor<4x3xi1>, tensor<4x3xf32>, tensor<4x3xi64>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

// ---- reductions

func.func @f(%x: tensor<4x3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{hl.sum: dim 2 out of range for rank 2 (operands: 4x3xf32)}}
  %0 = hl.sum %x {dims = array<i64: 2>} : (tensor<4x3xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{hl.sum: repeated dims [1, -1] (operands: 4x3xf32)}}
  %0 = hl.sum %x {dims = array<i64: 1, -1>} : (tensor<4x3xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<0x3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{hl.max: cannot reduce over dim 0 of size 0 (the max of no elements is undefined) (operands: 0x3xf32)}}
  %0 = hl.max %x {dims = array<i64: 0>} : (tensor<0x3xf32>) -> tensor<3xf32>
  func.return %0 : tensor<3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{hl.min: result type 4xf32 does not match the inferred 4x1xf32 (operands: 4x3xf32)}}
  %0 = hl.min %x {dims = array<i64: 1>, keepdim = true} : (tensor<4x3xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4xi64> {
  // expected-error @+1 {{hl.argmax: dim 2 out of range for rank 2 (operands: 4x3xf32)}}
  %0 = hl.argmax %x {dim = 2 : i64} : (tensor<4x3xf32>) -> tensor<4xi64>
  func.return %0 : tensor<4xi64>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{hl.argmax: result type 4xi32 does not match the inferred 4xi64 (operands: 4x3xf32)}}
  %0 = hl.argmax %x {dim = 1 : i64} : (tensor<4x3xf32>) -> tensor<4xi32>
  func.return %0 : tensor<4xi32>
}

// -----

// ---- shape ops

func.func @f(%x: tensor<4x3xf32>) -> tensor<5x2xf32> {
  // expected-error @+1 {{hl.reshape: cannot reshape to [5, 2] (operands: 4x3xf32)}}
  %0 = hl.reshape %x {shape = array<i64: 5, 2>} : (tensor<4x3xf32>) -> tensor<5x2xf32>
  func.return %0 : tensor<5x2xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{hl.transpose: perm [0, 0] is not a permutation of 2 dims (operands: 4x3xf32)}}
  %0 = hl.transpose %x {perm = array<i64: 0, 0>} : (tensor<4x3xf32>) -> tensor<4x4xf32>
  func.return %0 : tensor<4x4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.flip: dims [0, -2] repeat a dim (operands: 4x3xf32)}}
  %0 = hl.flip %x {dims = array<i64: 0, -2>} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<3xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{hl.broadcast_to: cannot broadcast to [4, 2] (operands: 3xf32)}}
  %0 = hl.broadcast_to %x {shape = array<i64: 4, 2>} : (tensor<3xf32>) -> tensor<4x2xf32>
  func.return %0 : tensor<4x2xf32>
}

// -----

func.func @f(%x: tensor<3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{hl.broadcast_to: cannot broadcast to [-1, 3] (operands: 3xf32)}}
  %0 = hl.broadcast_to %x {shape = array<i64: -1, 3>} : (tensor<3xf32>) -> tensor<?x3xf32>
  func.return %0 : tensor<?x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{hl.slice: bad range 0:4:1 for dim 1 of size 3 (operands: 4x3xf32)}}
  %0 = hl.slice %x {start = array<i64: 0, 0>, stop = array<i64: 4, 4>, step = array<i64: 1, 1>} : (tensor<4x3xf32>) -> tensor<4x4xf32>
  func.return %0 : tensor<4x4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.slice: bad range 0:4:0 for dim 0 of size 4 (operands: 4x3xf32)}}
  %0 = hl.slice %x {start = array<i64: 0, 0>, stop = array<i64: 4, 3>, step = array<i64: 0, 1>} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{hl.slice: start/stop/step need one entry per dim (operands: 4x3xf32)}}
  %0 = hl.slice %x {start = array<i64: 0>, stop = array<i64: 4>, step = array<i64: 1>} : (tensor<4x3xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %y: tensor<2x4xf32>) -> tensor<6x3xf32> {
  // expected-error @+1 {{hl.concat: shapes differ outside dim 0 (operands: 4x3xf32, 2x4xf32)}}
  %0 = hl.concat %x, %y {dim = 0 : i64} : (tensor<4x3xf32>, tensor<2x4xf32>) -> tensor<6x3xf32>
  func.return %0 : tensor<6x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %y: tensor<4x2xi32>) -> tensor<4x5xf32> {
  // expected-error @+1 {{hl.concat: operand dtypes differ (operands: 4x3xf32, 4x2xi32)}}
  %0 = hl.concat %x, %y {dim = 1 : i64} : (tensor<4x3xf32>, tensor<4x2xi32>) -> tensor<4x5xf32>
  func.return %0 : tensor<4x5xf32>
}

// -----

func.func @f() -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.concat: needs at least one operand (operands: none)}}
  %0 = hl.concat {dim = 0 : i64} : () -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.pad: low [-1, 0] / high [1, 0] must be non-negative, one per dim (operands: 4x3xf32)}}
  %0 = hl.pad %x {low = array<i64: -1, 0>, high = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

// ---- contractions, convolution, pooling

func.func @f(%a: tensor<4x3xf32>, %b: tensor<4x5xf32>) -> tensor<4x5xf32> {
  // expected-error @+1 {{hl.matmul: contracting dims differ (3 vs 4) (operands: 4x3xf32, 4x5xf32)}}
  %0 = hl.matmul %a, %b : (tensor<4x3xf32>, tensor<4x5xf32>) -> tensor<4x5xf32>
  func.return %0 : tensor<4x5xf32>
}

// -----

func.func @f(%a: tensor<3xf32>, %b: tensor<3x5xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{hl.matmul: operands need rank >= 2 (reshape vectors first) (operands: 3xf32, 3x5xf32)}}
  %0 = hl.matmul %a, %b : (tensor<3xf32>, tensor<3x5xf32>) -> tensor<5xf32>
  func.return %0 : tensor<5xf32>
}

// -----

func.func @f(%a: tensor<2x4x3xf32>, %b: tensor<3x3x5xf32>) -> tensor<2x4x5xf32> {
  // expected-error @+1 {{hl.matmul: batch dims do not broadcast (operands: 2x4x3xf32, 3x3x5xf32)}}
  %0 = hl.matmul %a, %b : (tensor<2x4x3xf32>, tensor<3x3x5xf32>) -> tensor<2x4x5xf32>
  func.return %0 : tensor<2x4x5xf32>
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{hl.conv2d: channels: input C=3, weight I=2, O=4, groups=1 (operands: 1x3x8x8xf32, 4x2x3x3xf32)}}
  %0 = hl.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @f(%x: tensor<1x4x8x8xf32>, %w: tensor<3x2x3x3xf32>) -> tensor<1x3x6x6xf32> {
  // expected-error @+1 {{hl.conv2d: channels: input C=4, weight I=2, O=3, groups=2 (operands: 1x4x8x8xf32, 3x2x3x3xf32)}}
  %0 = hl.conv2d %x, %w {groups = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x6x6xf32>
  func.return %0 : tensor<1x3x6x6xf32>
}

// -----

func.func @f(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x5x5xf32>) -> tensor<1x4x1x1xf32> {
  // expected-error @+1 {{hl.conv2d: kernel 5x5 (dilation 1x1) larger than the padded input 4x4 (operands: 1x3x4x4xf32, 4x3x5x5xf32)}}
  %0 = hl.conv2d %x, %w : (tensor<1x3x4x4xf32>, tensor<4x3x5x5xf32>) -> tensor<1x4x1x1xf32>
  func.return %0 : tensor<1x4x1x1xf32>
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{hl.conv2d: stride [0, 1] and dilation [1, 1] must be >= 1, padding [0, 0] >= 0 (operands: 1x3x8x8xf32, 4x3x3x3xf32)}}
  %0 = hl.conv2d %x, %w {stride = array<i64: 0, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @f(%x: tensor<1x3x8x8xi32>, %w: tensor<4x3x3x3xi32>) -> tensor<1x4x6x6xi32> {
  // expected-error @+1 {{hl.conv2d: operands must share a float dtype (operands: 1x3x8x8xi32, 4x3x3x3xi32)}}
  %0 = hl.conv2d %x, %w : (tensor<1x3x8x8xi32>, tensor<4x3x3x3xi32>) -> tensor<1x4x6x6xi32>
  func.return %0 : tensor<1x4x6x6xi32>
}

// -----

func.func @f(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x1x1xf32> {
  // expected-error @+1 {{hl.max_pool2d: kernel 5x5 larger than the padded input 4x4 (operands: 1x2x4x4xf32)}}
  %0 = hl.max_pool2d %x {kernel = array<i64: 5, 5>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>) -> tensor<1x2x1x1xf32>
  func.return %0 : tensor<1x2x1x1xf32>
}

// -----

func.func @f(%x: tensor<1x2x8x8xf32>) -> tensor<1x2x9x9xf32> {
  // expected-error @+1 {{hl.avg_pool2d: kernel [0, 0] and stride [1, 1] must be >= 1, padding [0, 0] >= 0 (operands: 1x2x8x8xf32)}}
  %0 = hl.avg_pool2d %x {kernel = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x8x8xf32>) -> tensor<1x2x9x9xf32>
  func.return %0 : tensor<1x2x9x9xf32>
}

// -----

func.func @f(%x: tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32> {
  // expected-error @+1 {{hl.avg_pool2d: padding must be at most half the kernel size (operands: 1x2x8x8xf32)}}
  %0 = hl.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 1, 1>, padding = array<i64: 2, 0>} : (tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  func.return %0 : tensor<1x2x8x8xf32>
}

// -----

func.func @f(%x: tensor<2x8x8xf32>) -> tensor<2x4x4xf32> {
  // expected-error @+1 {{hl.max_pool2d: input must be NCHW (operands: 2x8x8xf32)}}
  %0 = hl.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>} : (tensor<2x8x8xf32>) -> tensor<2x4x4xf32>
  func.return %0 : tensor<2x4x4xf32>
}

// -----

// ---- creation

func.func @f() -> tensor<2xf32> {
  // expected-error @+1 {{hl.constant: value must be a dense attribute of type 2xf32}}
  %0 = hl.constant {value = dense<[1, 2, 3]> : tensor<3xi64>} : tensor<2xf32>
  func.return %0 : tensor<2xf32>
}

// -----

func.func @f() -> tensor<4xf80> {
  // expected-error @+1 {{hl.full: unsupported element type f80; hl supports f32, f64, f16, bf16, i32, i64, i1}}
  %0 = hl.full {value = 1.0 : f64} : tensor<4xf80>
  func.return %0 : tensor<4xf80>
}

// -----

func.func @f() -> tensor<4x3xi64> {
  // expected-error @+1 {{hl.iota: dim 2 out of range for rank 2 (operands: 4x3xi64)}}
  %0 = hl.iota {dim = 2 : i64} : tensor<4x3xi64>
  func.return %0 : tensor<4x3xi64>
}

// -----

func.func @f(%k: tensor<2xi64>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.random_uniform: key must be tensor<i64>, got 2xi64}}
  %0 = hl.random_uniform %k : (tensor<2xi64>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%k: tensor<i64>) -> tensor<4x3xi32> {
  // expected-error @+1 {{hl.random_uniform: result must be a float tensor, got 4x3xi32}}
  %0 = hl.random_uniform %k : (tensor<i64>) -> tensor<4x3xi32>
  func.return %0 : tensor<4x3xi32>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %i: tensor<4x2xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{hl.gather: index must be an i32 or i64 tensor (operands: 4x3xf32, 4x2xf32)}}
  %0 = hl.gather %x, %i {dim = 1 : i64} : (tensor<4x3xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  func.return %0 : tensor<4x2xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %i: tensor<2x2xi64>) -> tensor<2x2xf32> {
  // expected-error @+1 {{hl.gather: index sizes outside dim 1 must be x's or 1 (operands: 4x3xf32, 2x2xi64)}}
  %0 = hl.gather %x, %i {dim = 1 : i64} : (tensor<4x3xf32>, tensor<2x2xi64>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %i: tensor<4x2xi64>, %s: tensor<4x2xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.scatter: unknown reduce 'mean' (known: sum, prod, amax, amin) (operands: 4x3xf32, 4x2xi64, 4x2xf32)}}
  %0 = hl.scatter %x, %i, %s {dim = 1 : i64, reduce = "mean"} : (tensor<4x3xf32>, tensor<4x2xi64>, tensor<4x2xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>, %i: tensor<4x2xi64>, %s: tensor<3x2xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{hl.scatter: src sizes outside dim 1 must be x's (operands: 4x3xf32, 4x2xi64, 3x2xf32)}}
  %0 = hl.scatter %x, %i, %s {dim = 1 : i64} : (tensor<4x3xf32>, tensor<4x2xi64>, tensor<3x2xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// -----

func.func @f(%x: tensor<4x3xf32>) -> tensor<4x3xf64> {
  // expected-error @+1 {{hl.stop_gradient: result type 4x3xf64 does not match the inferred 4x3xf32 (operands: 4x3xf32)}}
  %0 = hl.stop_gradient %x : (tensor<4x3xf32>) -> tensor<4x3xf64>
  func.return %0 : tensor<4x3xf64>
}
