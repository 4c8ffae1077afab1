"""GPU benchmarks as packages: build them here (with the compiler), run them on a GPU host without it.

    python benchmarks/gpu_packages.py build [-o gpu_packages] [--arch sm_90] [--targets cuda,opencl] [--small]
                                            [--matmul-tiles] [--matmul-sizes 256,1024,4096] [--only NAMES]
    python benchmarks/gpu_packages.py run [-d gpu_packages] [--target cuda] [--repeats 20]

`build` compiles the programs of the GPU check (docs/gpu.md, "Checking on a GPU
machine") with `irc.jit(...).save(...)` into `DIR/<target>/NAME.ircpkg`, with an
`index.json` that says what each one is:

* `matmul1024`, `matmul4096`: `a @ b` in float32 (TFLOP/s against torch.matmul; target >= 0.5x at 4096),
* `matmul1024_tf32`, `matmul4096_tf32` (cuda): the same on TF32 tensor cores (the target's `"tf32"`
  option, what `irc.backends.cuda.matmul.allow_tf32 = True` sets), against torch.matmul with
  `torch.backends.cuda.matmul.allow_tf32 = True` (target >= 0.7x),
* `elementwise`: `relu(x * y + x)` on 64M floats (GB/s against a device-to-device copy of the
  same size; target >= 0.7x),
* `mlp_sgd_b64`, `mlp_sgd_b1024`: one training step of an MLP 784-256-10 (cross entropy,
  SGD with momentum) at batch 64 and 1024, its parameters and optimizer state kept on the
  device between steps (ms per step against the same step in torch); on cuda each also as
  `..._nographs`, with `IRC_CUDA_GRAPHS=0` (every kernel launched on its own instead of the
  step's CUDA graph, `irc.runtime.plan.PlanRunner`).

`run` needs only numpy, the package's runtime (cuda-python for cuda, pyopencl for opencl)
and torch: it loads each package (`irc.runtime.load`, which imports neither xDSL nor TVM),
puts the inputs on the device once, checks the results against torch, then times calls
with the device synchronized around each (medians) and prints a table of irc against
torch on the same device. For opencl (PoCL on a CPU) torch runs on the CPU: a check of
the numerics and of this code path, not a speed comparison. `--small` builds the same
programs at small sizes (CI runs build and run that way on opencl).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

INDEX = "index.json"
MLP = (784, 256, 10)
LR, MOMENTUM = 0.01, 0.9


def sizes(small: bool) -> dict:
    """The problem sizes: the GPU check's, or small ones for CI."""
    if small:
        return {"matmul": (64, 128), "elementwise": 1 << 16, "batches": (8, 32)}
    return {"matmul": (1024, 4096), "elementwise": 64 << 20, "batches": (64, 1024)}


# ----------------------------------------------------------------------------- build (needs the compiler)


def _mlp_step(target):
    """A seeded MLP, SGD with momentum, and its jitted training step."""
    import irc
    import irc.nn as nn
    import irc.nn.functional as F
    import irc.optim as optim

    irc.manual_seed(0)
    model = nn.Sequential(nn.Linear(MLP[0], MLP[1]), nn.ReLU(), nn.Linear(MLP[1], MLP[2]))
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def mlp_sgd(x, t):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss

    return irc.jit(mlp_sgd, target=target)


def matmul(a, b):
    return a @ b


def relu_chain(x, y):
    return (x * y + x).relu()


#: tiles of the matmul schedule (a GPU target's "matmul" option: TVM dlight's Matmul config fields) that
#: `build --matmul-tiles` adds as matmul packages of their own, for choosing one on a GPU: dlight's
#: default for cuda is 8x16 threads of 4x4 outputs (32x64 per block), vectors of 2, k-step 16
def _tile(threads: tuple[int, int], outputs: tuple[int, int], **more) -> dict:
    """A 16x16-thread-style tile: threads (x, y) per block, outputs (x, y) per thread, vectors of 4."""
    return {"block_size_x": threads[0], "block_size_y": threads[1], "micro_size_x": outputs[0],
            "micro_size_y": outputs[1], "vector_size": 4, **more}  # fmt: skip


MATMUL_TILES = {
    "dlight": {"coalesced": 0},  # dlight's own default tile (cuda's default is irc's DEFAULT_MATMUL_TILE)
    "t64x64": _tile((16, 16), (4, 4)),
    "t64x128": _tile((16, 16), (4, 8)),
    "t128x128": _tile((16, 16), (8, 8)),
    "t128x128k8": _tile((16, 16), (8, 8), micro_size_k=8),
    "t128x64w": _tile((32, 8), (4, 8)),
    # double- and triple-buffered shared memory (irc's `pipeline_stages`: the next k-steps' tiles load
    # while the current one is multiplied)
    "t128x128p2": _tile((16, 16), (8, 8), pipeline_stages=2),
    "t128x128k8p3": _tile((16, 16), (8, 8), micro_size_k=8, pipeline_stages=3),
    "t64x128p2": _tile((16, 16), (4, 8), pipeline_stages=2),
    # tile copies along each operand's contiguous axis (irc's `coalesced`: b of a @ b is read along n)
    "t128x128c": _tile((16, 16), (8, 8), coalesced=1),
    "t128x128cp2": _tile((16, 16), (8, 8), coalesced=1, pipeline_stages=2),
    "t64x128c": _tile((16, 16), (4, 8), coalesced=1),
    "t64x128cp2": _tile((16, 16), (4, 8), coalesced=1, pipeline_stages=2),
    # around the fastest coalesced tile of the first H200 run (t64x128c): its k-step, its shape, and
    # virtual threads (a thread's outputs in two groups of 4 a block-row apart: the float4 shared
    # reads of neighbouring threads 16 bytes apart instead of 32, no 2-way bank conflict)
    "t64x128ck8": _tile((16, 16), (4, 8), coalesced=1, micro_size_k=8),
    "t64x128ck32": _tile((16, 16), (4, 8), coalesced=1, micro_size_k=32),
    "t128x64c": _tile((16, 16), (8, 4), coalesced=1),
    "t64x64c": _tile((16, 16), (4, 4), coalesced=1),
    "t64x128cv": _tile((16, 16), (4, 4), coalesced=1, vthread_y=2),
    "t128x128cv": _tile((16, 16), (4, 4), coalesced=1, vthread_x=2, vthread_y=2),
    "t128x64cv": _tile((16, 16), (4, 4), coalesced=1, vthread_x=2),
    "t64x128cvk8": _tile((16, 16), (4, 4), coalesced=1, vthread_y=2, micro_size_k=8),
    "t128x128cvp2": _tile((16, 16), (4, 4), coalesced=1, vthread_x=2, vthread_y=2, pipeline_stages=2),
    "t64x256cv": _tile((16, 32), (4, 4), coalesced=1, vthread_y=2),
}


def programs(target, small: bool, tiles: bool = False, matmul_sizes: tuple[int, ...] = ()):
    """(name, index record, jitted function, example arguments) of every benchmark program; `tiles`: also
    the matmuls with each of `MATMUL_TILES` (GPU targets); `matmul_sizes`: the matmuls' sizes instead of
    the check's."""
    import irc

    size = sizes(small)
    for n in matmul_sizes or size["matmul"]:
        a = np.empty((n, n), np.float32)  # only the shape matters: saving runs nothing
        yield f"matmul{n}", {"kind": "matmul", "n": n}, irc.jit(matmul, target=target), (a, a)
        base = target if isinstance(target, dict) else {"kind": target}
        if base["kind"] == "cuda":
            tf32 = irc.jit(matmul, target={**base, "tf32": True})
            yield f"matmul{n}_tf32", {"kind": "matmul", "n": n, "tf32": True}, tf32, (a, a)
        if tiles and base["kind"] in ("cuda", "opencl"):
            for label, tile in MATMUL_TILES.items():
                tiled = irc.jit(matmul, target={**base, "matmul": tile})
                yield f"matmul{n}_{label}", {"kind": "matmul", "n": n, "tile": tile}, tiled, (a, a)
    n = size["elementwise"]
    x = np.empty(n, np.float32)
    chain = irc.jit(relu_chain, target=target)
    yield "elementwise", {"kind": "elementwise", "n": n}, chain, (x, x)
    for batch in size["batches"]:
        args = np.empty((batch, MLP[0]), np.float32), np.zeros(batch, np.int64)
        yield f"mlp_sgd_b{batch}", {"kind": "mlp_sgd", "batch": batch}, _mlp_step(target), args


def build(
    out: Path,
    targets: list[str],
    arch: str,
    small: bool,
    only: set[str] | None = None,
    tiles: bool = False,
    matmul_sizes: tuple[int, ...] = (),
) -> None:
    for label in targets:
        target = {"kind": "cuda", "arch": arch} if label == "cuda" else label
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        index = []
        for name, record, fn, args in programs(target, small, tiles, matmul_sizes):
            if only and name not in only:
                continue
            start = time.perf_counter()
            path = fn.save(folder / f"{name}.ircpkg", *args)
            print(f"{label:6s} {name:20s} {path}  ({time.perf_counter() - start:.1f} s){_usage(fn, args, label)}")
            index.append({"name": name, "package": path.name, **record})
        (folder / INDEX).write_text(json.dumps({"target": target, "small": small, "programs": index}, indent=1))


def _usage(fn, args, label: str) -> str:
    """For a cuda matmul: its schedule and what ptxas reports (registers, shared memory, spills), where
    nvcc is installed; else nothing."""
    import shutil

    if label != "cuda" or fn.fn is not matmul or not shutil.which("nvcc"):
        return ""
    from irc.targets.cuda import resource_usage

    compiled = fn.lower(*args).compiled
    usage = [f"{k}: {u['registers']} regs, {u['smem']} B smem, {u['spill_stores']} B spilled" for k, u in
             resource_usage(compiled.source, compiled.arch).items()]  # fmt: skip
    return f"  [{', '.join(sorted(set(compiled.program.schedules.values())))}; {'; '.join(usage)}]"


# ----------------------------------------------------------------------------- run (numpy + runtime + torch)


def median_ms(fn, sync, repeats: int, warmup: int = 2) -> float:
    """The median wall time of `fn()` in ms, the device synchronized before and after each call."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def _host(value) -> np.ndarray:
    return value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)


def _rel_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


class Bench:
    """Runs one target's packages against torch; each `bench_*` returns a table row."""

    def __init__(self, folder: Path, repeats: int):
        import torch

        from irc.runtime import load

        self.folder, self.repeats, self.load = folder, repeats, load
        meta = json.loads((folder / INDEX).read_text())
        self.target, self.programs = meta["target"], meta["programs"]
        self.kind = self.target["kind"] if isinstance(self.target, dict) else self.target
        self.torch = torch
        self.tdev = "cuda" if self.kind == "cuda" else "cpu"
        self.rng = np.random.default_rng(0)
        self.notes: list[str] = []  # the plan runners' counts of the steps, printed after the table

    def sync_torch(self) -> None:
        if self.tdev == "cuda":
            self.torch.cuda.synchronize()

    def sync_for(self, value):
        """The synchronization of the device `value` lives on (nothing for llvm's numpy arrays)."""
        device = getattr(value, "device", None)
        return getattr(device, "synchronize", lambda: None)

    def tensor(self, array):
        return self.torch.from_numpy(np.ascontiguousarray(array)).to(self.tdev)

    def bench_matmul(self, record: dict, package) -> tuple:
        n = record["n"]
        entry = package.entry()
        a, b = (self.rng.standard_normal((n, n), np.float32) for _ in range(2))
        da, db = entry.to_device(a), entry.to_device(b)
        (c,) = entry.run_device(da, db)
        ta, tb = self.tensor(a), self.tensor(b)
        tf32 = bool(record.get("tf32"))
        matmul_flags = self.torch.backends.cuda.matmul
        allowed = matmul_flags.allow_tf32
        matmul_flags.allow_tf32 = tf32  # the reference computes as irc does: TF32 or full float32
        try:
            error = _rel_error(_host(c), (ta @ tb).cpu().numpy())
            ms = median_ms(lambda: entry.run_device(da, db), self.sync_for(c), self.repeats)
            torch_ms = median_ms(lambda: ta @ tb, self.sync_torch, self.repeats)
        finally:
            matmul_flags.allow_tf32 = allowed
        flops = 2 * n**3 / 1e12
        versus = "torch TF32" if tf32 else "torch.matmul"
        return flops / (ms / 1e3), flops / (torch_ms / 1e3), "TFLOP/s", versus, error

    def bench_elementwise(self, record: dict, package) -> tuple:
        n = record["n"]
        entry = package.entry()
        x, y = (self.rng.standard_normal(n, np.float32) for _ in range(2))
        dx, dy = entry.to_device(x), entry.to_device(y)
        (z,) = entry.run_device(dx, dy)
        tx, ty = self.tensor(x), self.tensor(y)
        error = _rel_error(_host(z), self.torch.relu(tx * ty + tx).cpu().numpy())
        ms = median_ms(lambda: entry.run_device(dx, dy), self.sync_for(z), self.repeats)
        copy = self.torch.empty_like(tx)
        copy_ms = median_ms(lambda: copy.copy_(tx), self.sync_torch, self.repeats)
        gb = 4 * n / 1e9
        return 3 * gb / (ms / 1e3), 2 * gb / (copy_ms / 1e3), "GB/s", "device copy", error

    def bench_mlp_sgd(self, record: dict, package) -> tuple:
        torch = self.torch
        batch = record["batch"]
        runner = package.step_runner()
        model = torch.nn.Sequential(torch.nn.Linear(MLP[0], MLP[1]), torch.nn.ReLU(), torch.nn.Linear(MLP[1], MLP[2]))
        initial = runner.state
        model.load_state_dict({k: torch.from_numpy(initial[k]) for k in model.state_dict()})
        model.to(self.tdev)
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        x = self.rng.standard_normal((batch, MLP[0]), np.float32)
        t = self.rng.integers(0, MLP[2], batch)
        dx, dt = runner.entry.to_device(x), runner.entry.to_device(t)
        tx, tt = self.tensor(x), self.tensor(t)

        def torch_step():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(tx), tt)
            loss.backward()
            opt.step()
            return loss

        losses = [float(_host(runner(dx, dt)[0])) for _ in range(3)]
        want = [torch_step().item() for _ in range(3)]
        error = _rel_error(losses, want)
        (loss,) = runner(dx, dt)
        ms = median_ms(lambda: runner(dx, dt), self.sync_for(loss), self.repeats)
        torch_ms = median_ms(torch_step, self.sync_torch, self.repeats)
        # CUDA graphs built and launched: a step whose buffers cycle through more address sets than
        # the runner keeps graphs for builds one every call or two (docs/gpu.md, "On an H200")
        self.last_stats = runner.entry.stats()
        return ms, torch_ms, "ms/step", "torch step", error

    def rows(self):
        for record in self.programs:
            yield self.row(record["name"], record)
            if self.kind == "cuda" and record["kind"] == "mlp_sgd":
                # the same step launched kernel by kernel: what replaying it as one CUDA graph saves
                previous = os.environ.get("IRC_CUDA_GRAPHS")
                os.environ["IRC_CUDA_GRAPHS"] = "0"
                try:
                    yield self.row(record["name"] + "_nographs", record)
                finally:
                    if previous is None:
                        del os.environ["IRC_CUDA_GRAPHS"]
                    else:
                        os.environ["IRC_CUDA_GRAPHS"] = previous

    def row(self, name: str, record: dict) -> tuple:
        package = self.load(self.folder / record["package"])  # its runners read IRC_CUDA_GRAPHS now
        irc_value, torch_value, unit, versus, error = getattr(self, f"bench_{record['kind']}")(record, package)
        if record["kind"] == "mlp_sgd":
            self.notes.append(f"{name}: {self.last_stats}")
        faster = torch_value / irc_value if unit == "ms/step" else irc_value / torch_value
        return name, irc_value, torch_value, unit, versus, faster, error


def run(folder: Path, repeats: int) -> list[tuple]:
    bench = Bench(folder, repeats)
    where = f"torch on {bench.tdev}" + ("" if bench.kind == "cuda" else ": numerics only, not a speed reference")
    print(f"target {bench.target} ({where}); medians of {repeats} synchronized calls")
    header = f"{'program':22s} {'irc':>10s} {'reference':>10s} {'unit':8s} {'reference is':13s} {'ratio':>7s} {'rel err':>8s}"
    print(header)
    print("-" * len(header))
    rows = []
    for name, value, ref, unit, versus, ratio, error in bench.rows():
        print(f"{name:22s} {value:10.4g} {ref:10.4g} {unit:8s} {versus:13s} {ratio:6.2f}x {error:8.1e}", flush=True)
        rows.append((name, value, ref, unit, versus, ratio, error))
    print("ratio: irc's figure over the reference's (for ms/step: the reference's time over irc's); >1 is irc faster")
    for note in bench.notes:
        print(f"plan runner {note}")
    return rows


def main(argv: list[str] | None = None) -> list | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="compile the benchmark programs into packages (needs the compiler)")
    b.add_argument("-o", "--out", type=Path, default=Path("gpu_packages"))
    b.add_argument("--arch", default="sm_90", help="the CUDA arch of the cubins (default sm_90)")
    b.add_argument("--targets", default="cuda,opencl", help="comma-separated: cuda, opencl, llvm")
    b.add_argument("--small", action="store_true", help="small sizes (CI)")
    b.add_argument("--only", default="", help="comma-separated program names (default: all)")
    b.add_argument(
        "--matmul-tiles", action="store_true", help="also the matmuls with each tile of MATMUL_TILES (cuda, opencl)"
    )
    b.add_argument("--matmul-sizes", default="", help="comma-separated n of the n x n matmuls (default: 1024,4096)")
    r = commands.add_parser("run", help="run the packages against torch (numpy, the runtime and torch only)")
    r.add_argument("-d", "--dir", type=Path, default=Path("gpu_packages"))
    r.add_argument("--target", default="cuda", help="the subfolder of DIR to run (cuda, opencl, llvm)")
    r.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    if args.command == "build":
        only = {n for n in args.only.split(",") if n}
        sizes_ = tuple(int(n) for n in args.matmul_sizes.split(",") if n)
        targets = [t for t in args.targets.split(",") if t]
        build(args.out, targets, args.arch, args.small, only, args.matmul_tiles, sizes_)
        return None
    return run(args.dir / args.target, args.repeats)


if __name__ == "__main__":
    main()
