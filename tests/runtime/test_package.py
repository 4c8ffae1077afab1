"""Compiled packages: save, load in a fresh process without the compiler, verify, refuse damaged ones.

Oracles: the hl numpy reference (`run_hl`) and the in-process compiled code.
"""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import irc
from irc.compiler.pipeline import Pipeline
from irc.driver.arrays import random_inputs
from irc.driver.cli import main
from irc.driver.inputs import load_program
from irc.errors import IRCError
from irc.frontend.tracing import trace
from irc.interpreters.reference import run_hl
from irc.ir import parse_module
from irc.runtime import package
from irc.targets.cuda import nvrtc_available
from tests.helpers import BLOCK_IMPORTS, rewrite_zip

ROOT = Path(__file__).resolve().parents[2]
SHAPES = {"x": (4, 16), "w1": (16, 8), "b1": (8,)}
W2 = np.linspace(-1, 1, 8 * 3, dtype=np.float32).reshape(8, 3)  # captured: a constant of the package


def mlp(x, w1, b1):
    return ((x @ w1 + b1).relu() @ irc.tensor(W2)).softmax(dim=-1)


def _has_opencl() -> bool:
    try:
        import pyopencl

        return any(p.get_devices() for p in pyopencl.get_platforms())
    except Exception:
        return False


TARGETS = ["llvm", pytest.param("opencl", marks=pytest.mark.skipif(not _has_opencl(), reason="no OpenCL platform"))]


@pytest.fixture(scope="module")
def module():
    return trace(mlp, [irc.Spec(s) for s in SHAPES.values()], name="mlp")


@pytest.fixture(scope="module")
def args():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES.values()]


@pytest.fixture(scope="module", params=TARGETS)
def compiled(request, module, tmp_path_factory):
    """(lowering, package path) for one target, with the gradient entry too."""
    lowering = Pipeline(request.param, grad=True).run(module)
    path = package.save(lowering, tmp_path_factory.mktemp(request.param) / "mlp.ircpkg")
    return lowering, path


FRESH = """
import sys, numpy as np
import irc.runtime
model = irc.runtime.load(sys.argv[1])
args = np.load(sys.argv[2])
outputs = model(*[args[f"arr_{i}"] for i in range(len(args.files))])
np.savez(sys.argv[3], *outputs)
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"xdsl", "tvm"})
print(",".join(loaded) or "none")
"""


def run_in_a_fresh_process(path, args: list, tmp_path) -> list[np.ndarray]:
    """The outputs of the package at `path` on `args`, run by a new Python process that imports neither
    xDSL nor TVM (checked)."""
    np.savez(tmp_path / "args.npz", *args)
    result = subprocess.run(
        [sys.executable, "-c", FRESH, str(path), str(tmp_path / "args.npz"), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none", "running a package imported the compiler: " + result.stdout
    return list(np.load(tmp_path / "out.npz").values())


def test_round_trip_in_a_fresh_process(compiled, module, args, tmp_path):
    lowering, path = compiled
    (out,) = run_in_a_fresh_process(path, args, tmp_path)
    np.testing.assert_array_equal(out, lowering(*args)[0])
    np.testing.assert_allclose(out, run_hl(module, args)[0], rtol=1e-4, atol=1e-6)


WITHOUT_COMPILER = (
    BLOCK_IMPORTS
    + """
from irc.driver.cli import main
sys.exit(main(sys.argv[1:]))
"""
)


def test_cli_runs_a_package_without_the_compiler(compiled, args, tmp_path):
    # `irc run model.ircpkg` with xDSL unimportable (and TVM too, but for llvm: its runtime library runs the code)
    lowering, path = compiled
    blocked = "xdsl" if lowering.target == "llvm" else "xdsl,tvm"
    inputs = []
    for spec, array in zip(package.load(path).inputs, args, strict=True):
        np.save(tmp_path / f"{spec.name}.npy", array)
        inputs += ["--input", f"{spec.name}={tmp_path / spec.name}.npy"]
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_COMPILER, blocked, "run", str(path), *inputs, "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    (out,) = [np.load(f) for f in sorted((tmp_path / "out").iterdir())]
    np.testing.assert_array_equal(out, lowering(*args)[0])


def test_entries_names_and_keyword_inputs(compiled, module, args):
    lowering, path = compiled
    model = package.load(path)
    assert list(model.entries) == ["mlp", "mlp_grad"]
    assert [(s.name, s.shape, s.dtype.name) for s in model.inputs] == [(n, s, "float32") for n, s in SHAPES.items()]
    assert [(s.name, s.shape) for s in model.outputs] == [("out0", (4, 3))]
    (by_name,) = model(b1=args[2], x=args[0], w1=args[1])
    np.testing.assert_array_equal(by_name, lowering(*args)[0])
    grads = model.entry("mlp_grad")(*args)
    expected = run_hl(lowering.modules["hl-opt"], args, "mlp_grad")
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # what the entry's plan runner counted: one call, kernel by kernel (no plan on llvm: nothing)
    kernel_calls = {"llvm": None}.get(model.manifest["target"]["kind"], 1)
    assert model.entry().stats() == ({} if kernel_calls is None else {"kernel_calls": kernel_calls})


def test_manifest(compiled):
    _, path = compiled
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        header = json.loads(archive.read("header.json"))
        manifest = json.loads(archive.read("manifest.json"))
        members = {n: archive.read(n) for n in names if n != "header.json"}
    assert names[:2] == ["header.json", "manifest.json"]
    assert (header["format"], header["version"], header["irc_version"]) == ("irc-package", 2, irc.__version__)
    assert header["members"] == {n: hashlib.sha256(d).hexdigest() for n, d in members.items()}  # manifest too
    (w2_file,) = manifest["entries"][0]["constants"].values()
    constant = np.load(zipfile.ZipFile(path).open(w2_file))
    np.testing.assert_array_equal(constant.reshape(W2.shape), W2)
    if manifest["target"]["kind"] == "opencl":
        assert "kernels.cl" in members and manifest["entries"][0]["plan"]["launches"]
    else:
        assert members["kernels.so"][:4] == b"\x7fELF" and manifest["target"]["mcpu"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # like any file a command writes (not 0o600)


def test_truncated_package_is_refused(compiled, tmp_path):
    data = compiled[1].read_bytes()
    (tmp_path / "cut.ircpkg").write_bytes(data[: len(data) // 2])
    with pytest.raises(IRCError, match="corrupt package"):
        package.load(tmp_path / "cut.ircpkg")


def test_flipped_byte_is_refused(compiled, tmp_path):
    data = bytearray(compiled[1].read_bytes())
    with zipfile.ZipFile(compiled[1]) as archive:
        info = next(i for i in archive.infolist() if i.filename.startswith("kernels"))
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # the member's compressed data
    data[start + info.compress_size // 2] ^= 0x40
    (tmp_path / "flipped.ircpkg").write_bytes(bytes(data))
    with pytest.raises(IRCError, match="corrupt package"):
        package.load(tmp_path / "flipped.ircpkg")


def test_tampered_member_is_refused(compiled, tmp_path):
    def change(name, data):
        return data.replace(b"mlp", b"mLp", 1) if name.startswith("kernels") else data

    tampered = rewrite_zip(compiled[1], tmp_path / "tampered.ircpkg", change)
    with pytest.raises(IRCError, match=r"corrupt package: kernels\.\w+ does not match its SHA-256"):
        package.load(tampered)


def _edit_json(member: str, edit):
    """A `rewrite_zip` change applying `edit(dict) -> dict` to the JSON member `member`."""

    def change(name, data):
        return json.dumps(edit(json.loads(data))).encode() if name == member else data

    return change


def _first_input_shape(manifest: dict, shape: list) -> dict:
    manifest["entries"][0]["inputs"][0]["shape"] = shape
    return manifest


@pytest.mark.parametrize(
    "case, message",
    [
        # the manifest is covered by the header's hashes: an edited input shape is refused, not run
        ({"change": _edit_json("manifest.json", lambda m: _first_input_shape(m, [8, 16]))},
         r"corrupt package: manifest\.json does not match its SHA-256 in header\.json"),
        ({"add": {"extra.bin": b"x"}}, r"corrupt package: members not listed in header\.json: extra\.bin$"),
        ({"change": lambda name, data: None if name.startswith("constants/mlp/") else data},
         r"corrupt package: missing members listed in header\.json: constants/mlp/\w+\.npy$"),
        ({"change": lambda name, data: None if name == "header.json" else data},
         r"corrupt package: no header\.json"),
        ({"change": _edit_json("header.json", lambda h: {**h, "members": [1]})},
         r"corrupt package: header\.json has no member list"),
        ({"change": _edit_json("header.json", lambda h: {**h, "format": "zip"})},
         r"not an irc package \(format is not 'irc-package'\)"),
    ],
)  # fmt: skip
def test_damaged_package_is_refused(case, message, compiled, tmp_path):
    damaged = rewrite_zip(compiled[1], tmp_path / "damaged.ircpkg", **case)
    with pytest.raises(IRCError, match=message):
        package.load(damaged)


def _damage_central_directory(path: Path, out: Path, offset: int, value: int) -> Path:
    """A copy of the zip file `path` whose first central directory record has the 2-byte field at `offset`
    set to `value` (6: the version needed to extract, 10: the compression method)."""
    data = bytearray(path.read_bytes())
    record = data.index(b"PK\x01\x02")
    data[record + offset : record + offset + 2] = value.to_bytes(2, "little")
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("offset, value", [(10, 99), (6, 99)])  # compression method 99; zip version 9.9
def test_a_damaged_zip_header_is_a_corrupt_file(offset, value, compiled, tmp_path, capsys):
    damaged = _damage_central_directory(compiled[1], tmp_path / "damaged.ircpkg", offset, value)
    with pytest.raises(IRCError, match=r"damaged\.ircpkg: corrupt package \(truncated or damaged zip file: "):
        package.load(damaged)
    assert main(["run", str(damaged)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"irc: error: {damaged}: corrupt package (") and err.count("\n") == 1
    irc.save({"w": np.ones(3, np.float32)}, tmp_path / "ckpt.irc")
    checkpoint = _damage_central_directory(tmp_path / "ckpt.irc", tmp_path / "damaged.irc", offset, value)
    with pytest.raises(ValueError, match=r"damaged\.irc is not a file written by irc\.save or torch\.save"):
        irc.load(checkpoint)


def test_other_format_version_is_refused(compiled, tmp_path):
    newer = rewrite_zip(
        compiled[1],
        tmp_path / "newer.ircpkg",
        _edit_json("header.json", lambda header: {**header, "version": 3, "irc_version": "9.0"}),
    )
    with pytest.raises(IRCError, match=r"format version 3 \(written by irc 9\.0\); this irc .* reads version 2"):
        package.load(newer)


def test_version_1_package_asks_for_a_rebuild(compiled, tmp_path):
    # version 1 had no header: format, version and member hashes were keys of manifest.json
    def to_version_1(name, data):
        if name == "header.json":
            return None
        if name != "manifest.json":
            return data
        return json.dumps({"format": "irc-package", "version": 1, "irc_version": "0.1.0", **json.loads(data)}).encode()

    old = rewrite_zip(compiled[1], tmp_path / "old.ircpkg", to_version_1)
    with pytest.raises(IRCError, match=r"format version 1 \(written by irc 0\.1\.0\).*rebuild the package"):
        package.load(old)


def test_wrong_inputs_are_refused(compiled, args):
    model = package.load(compiled[1])
    with pytest.raises(IRCError, match=r"input x has shape \(16, 4\), the package expects \(4, 16\)"):
        model(args[0].T, *args[1:])
    with pytest.raises(IRCError, match="input w1 has dtype complex64, the package expects float32"):
        model(args[0], args[1].astype(np.complex64), args[2])
    (from_float64,) = model(*(a.astype(np.float64) for a in args))  # same-kind dtypes are converted
    np.testing.assert_array_equal(from_float64, model(*args)[0])
    with pytest.raises(IRCError, match="missing input b1"):
        model(args[0], w1=args[1])
    with pytest.raises(IRCError, match="no input named 'y'"):
        model(*args, y=args[0])
    for value, kind in ((None, "NoneType of dtype object"), ("x", "str of dtype <U1")):
        with pytest.raises(IRCError, match=rf"input x is a {kind}, not an array of numbers; the package expects "):
            model(value, *args[1:])


INT_TEXT = """\
func.func @f(%x: tensor<4xi32>, %y: tensor<4xi32>) -> tensor<4xi32> {
  %0 = hl.add %x, %y : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  func.return %0 : tensor<4xi32>
}
"""


def test_integers_an_input_cannot_hold_are_refused(tmp_path):
    model = package.load(package.save(Pipeline("llvm").run(parse_module(INT_TEXT)), tmp_path / "int.ircpkg"))
    y = np.ones(4, np.int32)
    for x, value in (
        (np.array([2**40, 1, 2, 3], np.int64), 2**40),  # would wrap around to 0
        (np.array([0, -(2**31) - 1, 0, 0], np.int64), -(2**31) - 1),
        (np.array([2**31 + 5, 0, 0, 0], np.uint32), 2**31 + 5),  # unsigned, same width
    ):
        with pytest.raises(
            IRCError, match=rf"f: input x \({x.dtype}\) holds {value}, which the package's int32 cannot hold"
        ):
            model(x, y)
    fits = np.array([2**31 - 1 - 1, -(2**31), 7, 0], np.int64)
    np.testing.assert_array_equal(model(fits, y)[0], fits + 1)
    np.testing.assert_array_equal(model(np.arange(4, dtype=np.uint32), y)[0], np.arange(1, 5))


def test_a_package_refuses_a_cuda_arch_it_was_not_compiled_for(compiled, capsys):
    assert main(["run", str(compiled[1]), "--cuda-arch", "sm_90"]) == 2
    assert capsys.readouterr().err == (
        f"irc: error: {compiled[1]} is compiled for {package.load(compiled[1]).target}; it cannot run with "
        "--cuda-arch sm_90\n"
    )


def test_not_a_package(tmp_path):
    (tmp_path / "x.ircpkg").write_text("hello")
    with pytest.raises(IRCError, match="corrupt package"):
        package.load(tmp_path / "x.ircpkg")
    with pytest.raises(IRCError, match="no such file"):
        package.load(tmp_path / "missing.ircpkg")


def test_cli_compile_and_run(tmp_path, capsys):
    source = tmp_path / "small.py"
    source.write_text(
        "import irc\n\ndef small(x: irc.Spec((3, 5)), w: irc.Spec((5, 2))):\n    return (x @ w).relu(), x.sum(dim=1)\n"
    )
    assert main(["compile", str(source), "-o", str(tmp_path / "m.ircpkg")]) == 0
    assert main(["run", str(tmp_path / "m.ircpkg"), "--seed", "0", "-o", str(tmp_path / "out")]) == 0
    program = load_program(str(source))
    inputs = random_inputs(program.inputs, seed=0)
    expected = run_hl(program.module, [inputs[s.name] for s in program.inputs])
    for i, want in enumerate(expected):
        np.testing.assert_allclose(np.load(tmp_path / "out" / f"out{i}.npy"), want, rtol=1e-5, atol=1e-6)
    assert "out1  shape (3,)  float32" in capsys.readouterr().out
    np.save(tmp_path / "x.npy", np.ones((3, 5), np.float32))
    assert (
        main(["run", str(tmp_path / "m.ircpkg"), "--input", "x=x.npy".replace("x.npy", str(tmp_path / "x.npy"))]) == 0
    )
    assert main(["run", str(tmp_path / "m.ircpkg"), "--input", f"w={tmp_path / 'x.npy'}"]) == 2
    assert "w is declared (5, 2) float32" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "m.ircpkg"), "--target", "opencl"]) == 2
    assert main(["compile", str(source), "--emit", "loops", "-o", str(tmp_path / "m2.ircpkg")]) == 2


@pytest.mark.parametrize("compiler", ["nvcc", "nvrtc"])
def test_cuda_package_written_without_a_gpu(compiler, module, args, tmp_path, monkeypatch):
    # saving a cuda package builds its cubin: with nvcc where it is on PATH, else NVRTC
    if compiler == "nvcc" and shutil.which("nvcc") is None:
        pytest.skip("nvcc not installed")
    if compiler == "nvrtc":
        if not nvrtc_available():
            pytest.skip("NVRTC (the cuda extra) not installed")
        monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no nvcc on it
        assert shutil.which("nvcc") is None
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "cache"))
    lowering = Pipeline({"kind": "cuda", "arch": "sm_80"}).run(module)
    path = package.save(lowering, tmp_path / "mlp.ircpkg")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        cubin = archive.read("kernels.cubin")
        source = archive.read("kernels.cu").decode()
    assert manifest["target"] == {"kind": "cuda", "arch": "sm_80"}
    assert cubin[:4] == b"\x7fELF"
    launches = manifest["entries"][0]["plan"]["launches"]
    assert launches and all(f"void {k['name']}(" in source or k["name"] in source for k in launches)
    model = package.load(path)  # verifying needs no GPU; running does
    try:
        import cuda.bindings.driver as driver

        has_gpu = int(driver.cuInit(0)[0]) == 0
    except Exception:
        has_gpu = False
    if has_gpu:
        np.testing.assert_allclose(model(*args)[0], run_hl(module, args)[0], rtol=1e-4, atol=1e-6)
    else:
        with pytest.raises(IRCError, match=r"no CUDA|needs cuda-python"):
            model(*args)
