"""Target objects (irc.targets.kinds and a module per kind): one per kind, built from the str | dict spellings."""

import subprocess
import sys

import pytest

from irc.errors import InputError
from irc.runtime.host import host_cpu
from irc.targets import TARGETS, for_device, target
from irc.targets.cuda import CUDATarget
from irc.targets.kinds import GPUTarget
from irc.targets.llvm import LLVMTarget
from irc.targets.opencl import OpenCLTarget
from irc.targets.ref import RefTarget

SPELLINGS = [
    ("llvm", LLVMTarget, "cpu", {}),
    ({"kind": "llvm", "mcpu": "generic"}, LLVMTarget, "cpu", {"mcpu": "generic"}),
    ("cuda", CUDATarget, "cuda", {}),
    ({"kind": "cuda", "arch": "sm_90"}, CUDATarget, "cuda", {"arch": "sm_90"}),
    ("opencl", OpenCLTarget, "opencl", {}),
    ("ref", RefTarget, "cpu", {}),
]


@pytest.mark.parametrize(("spec", "cls", "device", "options"), SPELLINGS, ids=lambda v: str(v))
def test_every_spelling_builds_its_target(spec, cls, device, options):
    t = target(spec)
    assert type(t) is cls and t.device == device and t.options == options and t.spec == spec
    assert target(t) is t
    assert TARGETS[t.kind] is cls


def test_unknown_targets_name_the_known_ones():
    for spec in ("metal", {"kind": "metal"}, {"arch": "sm_90"}):
        with pytest.raises(InputError, match="the targets are llvm, cuda, opencl, ref"):
            target(spec)


def test_devices_map_to_targets():
    assert [for_device(d).kind for d in ("cpu", "cuda", "opencl")] == ["llvm", "cuda", "opencl"]
    assert isinstance(for_device("cuda"), GPUTarget) and not isinstance(for_device("cpu"), GPUTarget)


def test_resolution_and_cache_key_material():
    assert not target("cuda").resolved and target({"kind": "cuda", "arch": "sm_80"}).resolved
    assert target({"kind": "cuda", "arch": "sm_80"}).resolve().spec == {"kind": "cuda", "arch": "sm_80"}
    assert target("llvm").key_material() == {"target": "llvm", "cpu": host_cpu()}
    assert target("opencl").key_material() == {"target": "opencl", "cpu": None}
    assert not target("ref").compiles and target("llvm").compiles


def test_building_targets_imports_no_tvm():
    code = (
        "import sys, irc, irc.targets as t\n"
        "for s in ('llvm', 'cuda', 'opencl', 'ref', {'kind': 'cuda', 'arch': 'sm_90'}):\n"
        "    x = t.target(s); x.device, x.key_material(), x.resolved\n"
        "print('tvm' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
