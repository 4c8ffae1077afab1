"""`irc.load` of files written by `torch.save` (irc/frontend/torch_format.py): written here with
torch 2.13, read by irc in a process where `import torch` fails, compared value for value."""

import io
import json
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import irc
import irc.nn as nn

torch = pytest.importorskip("torch")


def _checkpoint():
    """A nest of everything a torch file holds: a model's and an Adam's state dicts, views, dtypes."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    base = torch.arange(24.0, dtype=torch.float64)
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "strided": base[3::4],  # a view: offset and stride into a shared storage
        "transposed": base.reshape(4, 6).t(),
        "also_base": base,
        "nested": [(torch.tensor([1, -2], dtype=torch.int32), {"flag": torch.tensor([True, False])})],
        "uint8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "half": torch.tensor([1.5, -0.333, 65504.0], dtype=torch.float16),
        "bfloat16": torch.tensor([1.5, -0.333, 3e38], dtype=torch.bfloat16),
        "long": torch.tensor([[2**40, -1]]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "parameter": torch.nn.Parameter(torch.ones(2)),
        "epoch": 3,
        "name": "run-1",
    }


def _expected(obj):
    """The nest with numpy arrays (torch's values, widened as irc loads them) for the tensors."""
    if isinstance(obj, torch.Tensor):
        # values as float32 / int32 lists (exact: json has no 16-bit floats); uint8 loads widened to int32
        listed = {torch.float16: torch.float32, torch.bfloat16: torch.float32, torch.uint8: torch.int32}
        return {"array": obj.detach().to(listed.get(obj.dtype, obj.dtype)).numpy().tolist(),
                "dtype": str(obj.dtype).replace("torch.", "").replace("uint8", "int32"),
                "requires_grad": obj.requires_grad, "shape": list(obj.shape)}  # fmt: skip
    if isinstance(obj, dict):
        return {"dict": [[k, _expected(v)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__: [_expected(v) for v in obj]}
    return obj


#: run in a fresh process without torch: load each file, compare with the expected nest
_CHECK = textwrap.dedent("""
    import json, sys
    sys.modules["torch"] = None  # `import torch` raises ImportError from here on
    import numpy as np
    import irc

    def same(got, want, where):
        if isinstance(want, dict) and "array" in want:
            assert isinstance(got, irc.Tensor), where
            assert str(got.dtype) == want["dtype"], (where, got.dtype, want["dtype"])
            assert got.requires_grad == want["requires_grad"], where
            np.testing.assert_array_equal(got.numpy(), np.array(want["array"], dtype=got.dtype).reshape(want["shape"]), err_msg=where)
        elif isinstance(want, dict):
            ((kind, items),) = want.items()
            if kind == "dict":
                assert isinstance(got, dict) and list(got) == [k for k, _ in items], (where, list(got))
                for k, v in items:
                    same(got[k], v, f"{where}[{k!r}]")
            else:
                assert type(got).__name__ == kind and len(got) == len(items), where
                for i, v in enumerate(items):
                    same(got[i], v, f"{where}[{i}]")
        else:
            assert got == want, (where, got, want)

    expected = json.load(open(sys.argv[1]))
    for path in sys.argv[2:]:
        same(irc.load(path), expected, path)
    assert "torch" not in sys.modules or sys.modules["torch"] is None
    print("ok", len(sys.argv) - 2)
""")


def test_torch_files_load_without_torch(tmp_path):
    checkpoint = _checkpoint()
    torch.save(checkpoint, tmp_path / "zip.pt")
    torch.save(checkpoint, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    # json keys must be str: the optimizer's int keys are compared in this process below
    expected = _expected({k: v for k, v in checkpoint.items() if k != "optimizer"})
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    slim = {k: v for k, v in checkpoint.items() if k != "optimizer"}
    torch.save(slim, tmp_path / "slim.pt")
    torch.save(slim, tmp_path / "slim-legacy.pt", _use_new_zipfile_serialization=False)
    result = subprocess.run(
        [sys.executable, "-c", _CHECK, *(str(tmp_path / n) for n in ("expected.json", "slim.pt", "slim-legacy.pt"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "2"]
    # the full files (int keys in the optimizer's state), here: loading imports no torch either way
    for name in ("zip.pt", "legacy.pt"):
        loaded = irc.load(tmp_path / name)
        state = loaded["optimizer"]["state"]
        assert sorted(state) == [0, 1, 2, 3, 4, 5]
        for i, entry in checkpoint["optimizer"]["state"].items():
            for key, value in entry.items():
                np.testing.assert_array_equal(state[i][key].numpy(), value.numpy())
        assert loaded["optimizer"]["param_groups"] == checkpoint["optimizer"]["param_groups"]
        assert list(loaded["model"]) == list(checkpoint["model"])
        assert loaded["model"]._metadata == checkpoint["model"]._metadata  # the modules' versions
        np.testing.assert_array_equal(loaded["strided"].numpy(), [3.0, 7.0, 11.0, 15.0, 19.0, 23.0])


def test_a_torch_state_dict_drives_an_irc_model(tmp_path):
    torch.manual_seed(1)
    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    )
    reference.train()(torch.randn(8, 3))  # running statistics that differ from the defaults
    reference.eval()
    torch.save(reference.state_dict(), tmp_path / "model.pt")
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).eval()
    result = model.load_state_dict(irc.load(tmp_path / "model.pt"))
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    with torch.no_grad():
        want = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(irc.tensor(x)).numpy(), want, rtol=1e-5, atol=1e-6)


def test_map_location_and_file_objects():
    buffer = io.BytesIO()
    torch.save({"w": torch.nn.Parameter(torch.ones(2))}, buffer)
    buffer.seek(0)
    loaded = irc.load(buffer, map_location="cpu")
    assert loaded["w"].device == "cpu" and loaded["w"].requires_grad


def test_a_saved_parameter_loads_as_an_irc_parameter():
    """torch's nn.Parameter loads as irc.nn.Parameter (requiring grad as saved): assigned to a module it
    is one of its parameters. Before, it loaded as a plain tensor, which a module keeps as an attribute."""
    import irc.nn

    buffer = io.BytesIO()
    torch.save({"w": torch.nn.Parameter(torch.ones(2)), "frozen": torch.nn.Parameter(torch.ones(2), False)}, buffer)
    buffer.seek(0)
    loaded = irc.load(buffer)
    assert all(isinstance(v, irc.nn.Parameter) for v in loaded.values())
    assert loaded["w"].requires_grad and not loaded["frozen"].requires_grad
    module = irc.nn.Module()
    module.w = loaded["w"]
    assert [name for name, _ in module.named_parameters()] == ["w"]


def _torch_zip(pickled: bytes) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    buffer.seek(0)
    return buffer


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_a_pickle_that_names_another_global_is_refused(capfd):
    for payload in (_Exploit(), {"w": _Exploit()}, [np.ones(2)]):  # os.system; numpy's reconstruct too
        with pytest.raises(pickle.UnpicklingError, match=r"irc.load: refusing to load global .*weights_only"):
            irc.load(_torch_zip(pickle.dumps(payload, protocol=2)))
    assert "pwned" not in capfd.readouterr().out
    # the same refusal in the legacy format (the magic number first, then the pickle)
    legacy = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {}, _Exploit()):
        pickle.dump(part, legacy, protocol=2)
    legacy.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global (posix|os|nt).system"):
        irc.load(legacy)


def test_broken_torch_files_are_clear_errors():
    with pytest.raises(ValueError, match="not a file written by irc.save or torch.save"):
        irc.load(io.BytesIO(b"\x80\x02K\x01."))  # a pickle, but not torch's magic number
    # a tensor whose size reaches past its storage (8 bytes: two float32)
    bad = (
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
        b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x05\x85K\x01\x85\x89ctorch\nSize\n)RtR."
    )
    buffer = _torch_zip(bad)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("archive/data/0", np.ones(2, np.float32).tobytes())
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match=r"size \(5,\) reaches past its storage"):
        irc.load(buffer)
