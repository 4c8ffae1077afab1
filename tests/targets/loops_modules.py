"""Hand-written loops-stage (stage 5) modules for the target tests and benchmarks.

Each builder returns MLIR text in the form `convert-linalg-to-loops` emits:
`scf.parallel` (xDSL prints it in generic form) over the parallel dims holding
an `scf.for` nest over the reduction dims.
"""

from __future__ import annotations


def parallel(ivs: list[str], uppers: list[int], body: str) -> str:
    """An `scf.parallel` from 0 to `uppers` step 1 (needs `%c0`, `%c1` and `%c<N>` constants)."""
    n = len(ivs)
    operands = ", ".join(["%c0"] * n + [f"%c{u}" for u in uppers] + ["%c1"] * n)
    args = ", ".join(f"%{iv}: index" for iv in ivs)
    types = ", ".join(["index"] * 3 * n)
    return (
        f'"scf.parallel"({operands}) <{{operandSegmentSizes = array<i32: {n}, {n}, {n}, 0>}}> ({{\n'
        f"^bb0({args}):\n{body}\n  scf.reduce\n}}) : ({types}) -> ()"
    )


def for_(iv: str, upper: int, body: str) -> str:
    return f"scf.for %{iv} = %c0 to %c{upper} step %c1 {{\n{body}\n}}"


def func(name: str, args: str, body: str, sizes: set[int], num_outputs: int = 1, globals_: str = "") -> str:
    """A loops-stage func with `%c0`, `%c1` and one `%cN` per size in `sizes`."""
    consts = "\n".join(f"  %c{n} = arith.constant {n} : index" for n in sorted(sizes | {0, 1}))
    return (
        f"{globals_}\nfunc.func @{name}({args}) attributes {{irc.num_outputs = {num_outputs} : i64}} {{\n"
        f"{consts}\n{body}\n  func.return\n}}\n"
    )


def matmul(m: int, k: int, n: int, transposed_b: bool = False) -> str:
    """C = A @ B: a fill nest, then parallel(i, j) { for k { C[i,j] += A[i,k] * B[k,j] } }.

    `transposed_b`: B is stored (n, k) and read as B[j, k], like a Linear layer's weight.
    """
    c = f"memref<{m}x{n}xf32>"
    b = f"memref<{n}x{k}xf32>" if transposed_b else f"memref<{k}x{n}xf32>"
    fill = parallel(["i", "j"], [m, n], f"  memref.store %zero, %C[%i, %j] : {c}")
    update = for_(
        "k",
        k,
        f"""  %a = memref.load %A[%i, %k] : memref<{m}x{k}xf32>
  %b = memref.load %B[{"%j, %k" if transposed_b else "%k, %j"}] : {b}
  %acc = memref.load %C[%i, %j] : {c}
  %p = arith.mulf %a, %b : f32
  %s = arith.addf %acc, %p : f32
  memref.store %s, %C[%i, %j] : {c}""",
    )
    body = f"  %zero = arith.constant 0.000000e+00 : f32\n{fill}\n{parallel(['i', 'j'], [m, n], update)}"
    return func("matmul", f"%A: memref<{m}x{k}xf32>, %B: {b}, %C: {c}", body, {m, k, n})


def relu_fma(n: int) -> str:
    """out = relu(x * y + x) over `n` floats: one fused elementwise nest."""
    t = f"memref<{n}xf32>"
    body = parallel(
        ["i"],
        [n],
        f"""  %x = memref.load %X[%i] : {t}
  %y = memref.load %Y[%i] : {t}
  %p = arith.mulf %x, %y : f32
  %s = arith.addf %p, %x : f32
  %r = arith.maximumf %s, %zero : f32
  memref.store %r, %O[%i] : {t}""",
    )
    body = f"  %zero = arith.constant 0.000000e+00 : f32\n{body}"
    return func("relu_fma", f"%X: {t}, %Y: {t}, %O: {t}", body, {n})
