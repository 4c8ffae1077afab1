"""irc.runtime.host: the one reader of /proc/cpuinfo (llvm host target, cache key, package CPU check)."""

import pytest

from irc.errors import IRCError
from irc.runtime import host, package

READ = host.cpuinfo.__wrapped__  # the uncached reader, pointed at a file of the test

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 ssse3 sse4_1 sse4_2 avx avx2 fma

processor\t: 1
flags\t\t: something else
"""


@pytest.fixture
def fake_cpu(tmp_path, monkeypatch):
    path = tmp_path / "cpuinfo"
    path.write_text(X86)
    monkeypatch.setattr(host, "cpuinfo", lambda: READ(str(path)))
    host.host_cpu.cache_clear()
    yield
    host.host_cpu.cache_clear()


def test_reads_the_first_processor_only(fake_cpu):
    assert host.cpuinfo()["model name"] == "AMD EPYC 9R14"
    assert host.cpu_flags() == {"fpu", "sse2", "ssse3", "sse41", "sse42", "avx", "avx2", "fma"}
    cpu = host.host_cpu()
    assert cpu["flags"] == "avx avx2 fma fpu sse2 sse4_1 sse4_2 ssse3" and cpu["vendor_id"] == "AuthenticAMD"


def test_missing_features_compares_llvm_and_cpuinfo_spellings(fake_cpu):
    assert host.missing_features(["sse4.1", "avx2", "avx512f", "fast-lzcnt", "amx-tile"]) == ["avx512f", "amx-tile"]
    assert host.missing_features(["avx512f", "evex512"], ("evex",)) == ["evex512"]


def test_no_cpuinfo_says_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(host, "cpuinfo", lambda: READ(str(tmp_path / "absent")))
    assert host.cpu_flags() is None and host.missing_features(["avx512f"]) is None


def test_a_package_for_a_cpu_with_more_vector_features_is_refused(fake_cpu, tmp_path):
    import platform

    target = {"triple": f"{platform.machine()}-pc-linux-gnu", "mcpu": "sapphirerapids", "features": ["avx2", "avx512f"]}
    with pytest.raises(
        IRCError, match=r"m\.ircpkg: compiled for CPU sapphirerapids with avx512f, which this CPU lacks"
    ):
        package._check_cpu(tmp_path / "m.ircpkg", target)
    package._check_cpu(tmp_path / "m.ircpkg", {**target, "features": ["avx2", "fma"]})  # all present: accepted


def test_the_host_llvm_target_turns_off_what_the_cpu_hides(monkeypatch):
    llvm = pytest.importorskip("irc.targets.llvm.cpu")
    from tvm.target import codegen

    llvm.host_target.cache_clear()
    try:
        cpu = codegen.llvm_get_system_cpu()
        if cpu == "generic":
            pytest.skip("LLVM does not know this CPU")
        features = codegen.llvm_get_cpu_features(llvm.tvm.target.Target({"kind": "llvm", "mcpu": cpu}))
        if "avx2" not in features:
            pytest.skip(f"LLVM's {cpu} has no avx2 to hide")
        monkeypatch.setattr(llvm, "cpu_flags", lambda: {"sse2"})
        monkeypatch.setattr(host, "cpu_flags", lambda: {"sse2"})
        target = llvm.host_target()
        assert target["mcpu"] == cpu and "-avx2" in target["mattr"] and "-sse2" not in target["mattr"]
    finally:
        llvm.host_target.cache_clear()
