"""The compile cache (docs/cache.md): hits in a fresh process, bad entries rebuilt, concurrent writers,
LRU eviction under the size bound, and `irc cache info|clear`.

Oracles: numpy for every result; the cache's own counters (`irc.compiler.cache.stats`) and whether TVM
was imported tell a hit from a compile.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import irc
from irc.compiler import cache as compile_cache
from irc.compiler.stages import STAGE_NAMES
from irc.driver.cli import main
from irc.errors import InputError
from irc.frontend.tracing import trace
from irc.runtime import cache, package
from tests.helpers import BLOCK_IMPORTS, rewrite_zip
from tests.runtime.test_package import _has_opencl

ROOT = Path(__file__).resolve().parents[2]
X = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 4

# compiles one jitted and one eager program, then prints what the cache did and the results
FRESH = """
import json, sys
import numpy as np
import irc
from irc.compiler.cache import stats
x = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 4
jitted = irc.jit(lambda x: (x * 2).relu().sum(dim=0))(x).numpy()
eager = (irc.tensor(x).exp() + 1).numpy()
print(json.dumps({"stats": stats, "tvm": "tvm" in sys.modules, "jit": jitted.tolist(), "eager": eager.tolist()}))
"""


def _fresh_process(directory: Path) -> subprocess.Popen:
    env = {**os.environ, "IRC_CACHE_DIR": str(directory), "IRC_EAGER": "compile"}  # eager: compile at once
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-c", FRESH], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _report(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()
    report = json.loads(out.decode().strip().splitlines()[-1])
    np.testing.assert_allclose(report["jit"], np.maximum(X * 2, 0).sum(0), rtol=1e-6)
    np.testing.assert_allclose(report["eager"], np.exp(X) + 1, rtol=1e-6)
    return report


def _programs(directory: Path) -> list[Path]:
    return sorted((directory / cache.PROGRAMS).glob("*.ircpkg"))


@pytest.mark.slow  # two fresh processes (~2 s); the in-process tests below cover the disk cache
def test_a_fresh_process_loads_instead_of_compiling(tmp_path):
    first = _report(_fresh_process(tmp_path))
    assert first["stats"].get("compiles") == 2 and first["tvm"]
    second = _report(_fresh_process(tmp_path))
    assert second["stats"] == {"disk_hits": 2}
    assert not second["tvm"]  # a hit loads the kernels' library; TVM's compiler is not even imported


GPU_FRESH = (
    BLOCK_IMPORTS
    + """
import json
import numpy as np
import irc
from irc.compiler.cache import stats
x = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 4
out = irc.jit(lambda x: (x * 2).relu().sum(dim=0), target="opencl")(x)
print(json.dumps({"stats": stats, "device": out.device, "jit": out.numpy().tolist()}))
"""
)


@pytest.mark.skipif(not _has_opencl(), reason="no OpenCL platform")
def test_a_gpu_hit_in_a_fresh_process_needs_no_tvm(tmp_path):
    """A GPU program read back from the cache is rebuilt from its stored source and plans: the second
    process runs it on the OpenCL device with TVM blocked from being imported."""
    env = {**os.environ, "IRC_CACHE_DIR": str(tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    reports = []
    for blocked in ("nothing", "tvm,tvm_ffi"):
        result = subprocess.run([sys.executable, "-c", GPU_FRESH, blocked], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        reports.append(json.loads(result.stdout.strip().splitlines()[-1]))
        np.testing.assert_allclose(reports[-1]["jit"], np.maximum(X * 2, 0).sum(0), rtol=1e-6)
        assert reports[-1]["device"] == "opencl"
    assert reports[0]["stats"] == {"compiles": 1} and reports[1]["stats"] == {"disk_hits": 1}


@pytest.mark.slow  # two fresh processes compiling (~4 s)
def test_two_processes_compiling_the_same_programs_at_once(tmp_path):
    processes = [_fresh_process(tmp_path), _fresh_process(tmp_path)]
    for process in processes:
        _report(process)
    entries = _programs(tmp_path)
    assert len(entries) == 2  # one per program: the later rename replaced the earlier entry whole
    for entry in entries:
        package.load(entry)  # each verifies (hashes of every member)
    assert not [p for p in (tmp_path / cache.PROGRAMS).iterdir() if p.suffix == ".tmp"]


# ----------------------------------------------------------------------------- in process


@pytest.fixture
def disk(tmp_path, monkeypatch):
    """An empty disk cache and an empty in-process cache, with fresh counters."""
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IRC_CACHE_SIZE", raising=False)
    monkeypatch.setattr(compile_cache, "_compiled_programs", {})
    monkeypatch.setattr(compile_cache, "_entry_paths", {})
    monkeypatch.setattr(compile_cache, "stats", Counter())
    return tmp_path / "cache"


def _module(scale: float = 2.0):
    return trace(lambda x: (x * scale).relu().sum(dim=1), [irc.Spec((3, 4))], name="f")


def _expected(scale: float = 2.0) -> np.ndarray:
    return np.maximum(X * scale, 0).sum(1)


def _recompile_after(damage, disk: Path) -> None:
    """Compile, damage the entry, compile again in a 'new process' (memory cleared): a rebuild, right results,
    and the entry replaced (the next process hits it)."""
    module = _module()
    compile_cache.compile_cached(module, "llvm")
    (entry,) = _programs(disk)
    damage(entry)
    compile_cache.clear_memory()
    compiles = compile_cache.stats["compiles"]
    lowering = compile_cache.compile_cached(module, "llvm")
    assert compile_cache.stats["rejected"] == 1 and compile_cache.stats["compiles"] == compiles + 1
    np.testing.assert_allclose(lowering(X)[0], _expected(), rtol=1e-6)
    compile_cache.clear_memory()
    np.testing.assert_allclose(compile_cache.compile_cached(module, "llvm")(X)[0], _expected(), rtol=1e-6)
    assert compile_cache.stats["disk_hits"] == 1


def _with_member(entry: Path, name: str, edit) -> None:
    """Edit one member of the package `entry` and its hash in header.json: a valid package with other content."""
    data = {}

    def change(member, content):
        data[member] = content
        return content

    rewrite_zip(entry, entry.with_suffix(".orig"), change)
    data[name] = edit(data[name])
    header = json.loads(data[package.HEADER])
    if name != package.HEADER:
        header["members"][name] = hashlib.sha256(data[name]).hexdigest()
        data[package.HEADER] = json.dumps(header).encode()
    rewrite_zip(entry.with_suffix(".orig"), entry, lambda member, _: data[member])
    entry.with_suffix(".orig").unlink()


def _flip_a_byte(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))


def _truncate(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])


def _another_programs_entry(entry: Path) -> None:
    # a valid entry of another program (its results would be 3x, not 2x) under this program's name
    compile_cache.compile_cached(_module(3.0), "llvm")
    (other,) = [p for p in _programs(entry.parent.parent) if p != entry]
    other.replace(entry)


def _another_entry_format(entry: Path) -> None:
    meta = package.EXTRA + compile_cache.ENTRY_META
    _with_member(entry, meta, lambda data: json.dumps({**json.loads(data), "format": 99}).encode())


def _package_format_1(entry: Path) -> None:
    _with_member(entry, package.HEADER, lambda data: json.dumps({**json.loads(data), "version": 1}).encode())


@pytest.mark.parametrize(
    "damage", [_flip_a_byte, _truncate, _another_programs_entry, _another_entry_format, _package_format_1]
)
def test_a_bad_entry_is_rebuilt_and_replaced(disk, damage):
    _recompile_after(damage, disk)


def test_a_hit_has_the_stages_and_notes_of_the_compile(disk):
    module = _module()
    compiled = compile_cache.compile_cached(module, "llvm")
    compile_cache.clear_memory()
    hit = compile_cache.compile_cached(module, "llvm")
    assert compile_cache.stats == {"compiles": 1, "disk_hits": 1}
    assert list(hit.stages) == list(compiled.stages) == list(STAGE_NAMES)
    assert list(hit.modules) == list(STAGE_NAMES[:5])
    for name in STAGE_NAMES:
        assert hit.stages[name] == compiled.stages[name], name
    assert hit.compiled.schedule_notes == compiled.compiled.schedule_notes
    assert hit.compiled.tir_text == compiled.compiled.tir_text
    np.testing.assert_allclose(hit.execute("loops", X)[0], _expected(), rtol=1e-6)
    # a hit packages like a compile (input names from the recomputed hl-opt stage)
    model = package.load(package.save(hit, disk / "f.ircpkg"))
    assert [s.name for s in model.inputs] == ["x"]
    np.testing.assert_allclose(model(X)[0], _expected(), rtol=1e-6)


def test_a_compiled_program_keeps_only_what_running_and_packaging_it_need(disk):
    """What the in-process cache keeps of a compile: hl and hl-opt, the tir and target texts and the code;
    linalg..loops (the bulk of the objects) are recomputed when asked for, and equal the pipeline's."""
    from irc.compiler.pipeline import Pipeline

    module = _module()
    compiled = compile_cache.compile_cached(module, "llvm")
    reference = Pipeline(target="llvm").run(module)
    for name in ("hl", "hl-opt", "tir"):
        assert compiled.stages[name] == reference.stages[name], name
    assert compiled.stages["target"] == compiled.compiled.source  # (LLVM IR names addresses: no two compiles equal)
    model = package.load(package.save(compiled, disk / "f.ircpkg"))  # input names from the kept hl-opt
    assert [s.name for s in model.inputs] == ["x"]
    assert compiled.stages._front is None  # nothing recomputed so far
    for name in STAGE_NAMES[:5]:
        assert compiled.stages[name] == reference.stages[name], name
    np.testing.assert_allclose(compiled.execute("loops", X)[0], _expected(), rtol=1e-6)
    np.testing.assert_allclose(compiled(X)[0], _expected(), rtol=1e-6)


def test_an_opencl_hit(disk):
    pytest.importorskip("pyopencl")
    import pyopencl

    if not any(p.get_devices() for p in pyopencl.get_platforms()):
        pytest.skip("no OpenCL platform")
    module = _module()
    compiled = compile_cache.compile_cached(module, "opencl")
    compile_cache.clear_memory()
    hit = compile_cache.compile_cached(module, "opencl")
    assert compile_cache.stats == {"compiles": 1, "disk_hits": 1}
    assert hit.compiled.program.schedules == compiled.compiled.program.schedules
    assert hit.stages["target"] == compiled.stages["target"]
    np.testing.assert_allclose(hit(X)[0], _expected(), rtol=1e-6)


def test_a_cuda_hit_keeps_source_arch_and_cubin(disk, monkeypatch):
    from irc.targets.cuda import module as cuda

    monkeypatch.setattr(cuda, "cubin", lambda source, arch: b"\x7fELF cubin for " + arch.encode())  # no nvcc here
    target = {"kind": "cuda", "arch": "sm_80"}
    compiled = compile_cache.compile_cached(_module(), target)
    compile_cache.clear_memory()
    hit = compile_cache.compile_cached(_module(), target)
    assert compile_cache.stats == {"compiles": 1, "disk_hits": 1}
    assert isinstance(hit.compiled, cuda.CUDAModule) and hit.compiled.arch == "sm_80"
    assert hit.compiled.build() == b"\x7fELF cubin for sm_80"
    assert hit.compiled.source == compiled.compiled.source and hit.compiled.plans.keys() == {"f"}


def test_without_a_linker_the_jit_runs_and_nothing_is_stored(disk, monkeypatch):
    import tvm

    def no_linker(*args, **kwargs):
        raise RuntimeError("g++: command not found")

    monkeypatch.setattr(tvm.runtime.Executable, "export_library", no_linker)
    lowering = compile_cache.compile_cached(_module(), "llvm")
    np.testing.assert_allclose(lowering(X)[0], _expected(), rtol=1e-6)
    assert compile_cache.stats == {"compiles": 1, "unstored": 1}
    assert not _programs(disk)


def test_no_disk_cache_when_the_directory_is_empty(disk, monkeypatch):
    monkeypatch.setenv("IRC_CACHE_DIR", "")
    lowering = compile_cache.compile_cached(_module(), "llvm")
    np.testing.assert_allclose(lowering(X)[0], _expected(), rtol=1e-6)
    assert compile_cache.stats == {"compiles": 1}
    assert not disk.exists()


def test_the_compile_worker_hands_over_the_cache_entry_written_once(disk, tmp_path):
    """compile_to_package (the eager compile worker's job) names the program's cache entry and writes
    no second package; a disk hit names its entry too."""
    out = tmp_path / "out.ircpkg"
    path = compile_cache.compile_to_package(_module(), "llvm", out)
    assert [path] == _programs(disk) and not out.exists()
    np.testing.assert_allclose(package.load(path).entry()(X)[0], _expected(), rtol=1e-6)
    compile_cache.clear_memory()
    assert compile_cache.compile_to_package(_module(), "llvm", out) == path and not out.exists()
    assert compile_cache.stats == {"compiles": 1, "disk_hits": 1}


def test_the_compile_worker_writes_a_package_without_a_disk_cache(disk, tmp_path, monkeypatch):
    monkeypatch.setenv("IRC_CACHE_DIR", "")
    out = tmp_path / "out.ircpkg"
    assert compile_cache.compile_to_package(_module(), "llvm", out) == out
    np.testing.assert_allclose(package.load(out).entry()(X)[0], _expected(), rtol=1e-6)
    assert not disk.exists()


def test_store_writes_bytes_or_through_a_writer(tmp_path, monkeypatch):
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path))
    entry = cache.entry_path(cache.CUDA, "0" * 64 + ".cubin")
    assert cache.store(entry, b"cubin") and entry.read_bytes() == b"cubin"
    assert cache.store(entry, lambda at: at.write_bytes(b"again")) and entry.read_bytes() == b"again"

    def fails(at):
        raise OSError("disk full")

    assert not cache.store(cache.entry_path(cache.CUDA, "1" * 64 + ".cubin"), fails)


def test_the_key_names_target_program_and_versions():
    text = "module {}"
    key = compile_cache.program_key(text, "llvm")
    assert key == compile_cache.program_key(text, "llvm")
    assert key != compile_cache.program_key(text + " ", "llvm")
    assert key != compile_cache.program_key(text, "opencl")
    assert key != compile_cache.program_key(text, {"kind": "llvm", "mcpu": "skylake"})
    assert {"irc", "irc-source", "xdsl", "apache-tvm", "apache-tvm-ffi"} <= set(compile_cache.versions())


def test_tests_never_write_into_the_home_cache():
    assert os.environ["IRC_CACHE_DIR"] and not Path(os.environ["IRC_CACHE_DIR"]).is_relative_to(Path.home())


# ----------------------------------------------------------------------------- size bound, CLI


def _fake_entry(directory: Path, n: int, size: int, age: float, folder: str = cache.PROGRAMS) -> Path:
    path = directory / folder / (f"{n:064x}" + (".ircpkg" if folder == cache.PROGRAMS else ".cubin"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_the_least_recently_used_entries_go_first(tmp_path, monkeypatch):
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("IRC_CACHE_SIZE", "3K")
    oldest, older, old = (_fake_entry(tmp_path, n, 1000, age) for n, age in ((1, 300), (2, 200), (3, 100)))
    cubin = _fake_entry(tmp_path, 4, 500, 150, cache.CUDA)
    other = tmp_path / cache.PROGRAMS / "notes.txt"
    other.write_bytes(b"\0" * 5000)  # not irc's: never counted or removed
    assert cache.read_hit(oldest)  # used just now: the most recently used
    new = tmp_path / cache.PROGRAMS / f"{5:064x}.ircpkg"
    cache.store(new, b"\0" * 1000)
    # 4500 bytes > 3 KiB: the least recently used go until it fits (older, then the cubin)
    assert not older.exists() and not cubin.exists()
    assert oldest.exists() and old.exists() and new.exists() and other.exists()


def test_size_bound_spelling(monkeypatch):
    for text, size in (("", 1 << 30), ("1000", 1000), ("500M", 500 << 20), ("2g", 2 << 30), ("64KiB", 64 << 10)):
        monkeypatch.setenv("IRC_CACHE_SIZE", text)
        assert cache.size_bound() == size


def test_cache_info_and_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("IRC_CACHE_SIZE", "1M")
    _fake_entry(tmp_path, 1, 1024, 0)
    _fake_entry(tmp_path, 2, 1024, 0)
    _fake_entry(tmp_path, 3, 2048, 0, cache.CUDA)
    mine = tmp_path / "mine.txt"
    mine.write_text("not irc's")
    assert main(["cache", "info"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"directory  {tmp_path}",
        "entries    3 (programs 2, cuda binaries 1)",
        "size       4.0 KiB of 1.0 MiB (IRC_CACHE_SIZE)",
    ]
    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out == f"irc: removed 3 cache entries (4.0 KiB) from {tmp_path}\n"
    assert mine.read_text() == "not irc's"
    assert main(["cache", "info"]) == 0
    assert "entries    0 (programs 0, cuda binaries 0)" in capsys.readouterr().out


def test_cache_command_errors(monkeypatch, capsys):
    monkeypatch.setenv("IRC_CACHE_SIZE", "lots")
    assert main(["cache", "info"]) == 2
    assert capsys.readouterr().err == (
        "irc: error: IRC_CACHE_SIZE='lots': expected a size in bytes, or with a suffix K, M, G (e.g. 500M)\n"
    )
    with pytest.raises(SystemExit) as e:
        main(["cache", "list"])
    assert e.value.code == 2
    assert "invalid choice: 'list'" in capsys.readouterr().err
    monkeypatch.setenv("IRC_CACHE_DIR", "")
    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out == "irc: the disk cache is off (IRC_CACHE_DIR is set and empty)\n"


def test_a_malformed_size_fails_before_compiling(disk, monkeypatch):
    monkeypatch.setenv("IRC_CACHE_SIZE", "garbage")
    monkeypatch.setattr(compile_cache.Pipeline, "run", lambda *a, **k: pytest.fail("compiled before reading the bound"))
    with pytest.raises(InputError, match=r"^IRC_CACHE_SIZE='garbage': expected a size in bytes"):
        compile_cache.compile_cached(_module(), "llvm")
    assert not disk.exists()


def test_a_cache_directory_of_no_user_or_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IRC_CACHE_DIR", "~irc-no-such-user/cache")
    with pytest.raises(InputError, match=r"cannot expand '~irc-no-such-user'"):
        cache.cache_dir()
    assert main(["cache", "info"]) == 2
    assert capsys.readouterr().err == (
        "irc: error: IRC_CACHE_DIR='~irc-no-such-user/cache': cannot expand '~irc-no-such-user' "
        "(no such user, or no home directory)\n"
    )
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "file"))
    assert main(["cache", "info"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"directory  {tmp_path / 'file'} (not a directory)"
    monkeypatch.setenv("IRC_CACHE_DIR", str(tmp_path / "new"))
    assert main(["cache", "info"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"directory  {tmp_path / 'new'} (not created yet)"


# ----------------------------------------------------------------------------- long compiles


def test_a_long_compile_says_so_on_stderr(disk, monkeypatch, capsys):
    monkeypatch.setenv("IRC_COMPILE_NOTICE", "0.01")  # every compile is "long" here
    lowering = compile_cache.compile_cached(_module(3.0), "llvm")
    np.testing.assert_allclose(lowering(X)[0], _expected(3.0), rtol=1e-6)
    err = capsys.readouterr().err
    assert "irc: still compiling @f (" in err and "hl ops) for llvm: " in err, err
    assert " s so far, in " in err and "docs/compile-time.md" in err


@pytest.mark.parametrize("value", ["0", None])
def test_a_short_compile_or_notice_0_prints_nothing(disk, monkeypatch, capsys, value):
    if value is None:
        monkeypatch.delenv("IRC_COMPILE_NOTICE", raising=False)  # the default: 10 s, more than this compile
    else:
        monkeypatch.setenv("IRC_COMPILE_NOTICE", value)
    compile_cache.compile_cached(_module(4.0), "llvm")
    assert "irc: still compiling" not in capsys.readouterr().err


def test_a_bad_compile_notice_setting_is_named(disk, monkeypatch):
    monkeypatch.setenv("IRC_COMPILE_NOTICE", "soon")
    with pytest.raises(irc.InputError, match="IRC_COMPILE_NOTICE: 'soon' is not a number of seconds"):
        compile_cache.compile_cached(_module(5.0), "llvm")
