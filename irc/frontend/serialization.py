"""`irc.save` / `irc.load`: state dicts and other nests of tensors in a safe file format (no pickle).

    >>> irc.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "ckpt.irc")
    >>> model.load_state_dict(irc.load("ckpt.irc")["model"])

The file is a zip archive: `structure.json` holds the nest (dicts, lists, tuples, str, int,
float, bool, None), with every tensor replaced by `{"tensor": {"index": i, "device": ...,
"requires_grad": ...}}` and every numpy array by `{"ndarray": i}`; member `i.npy` holds array i in numpy's `.npy` format.
(`.npy` cannot name bfloat16: numpy writes it as 2-byte voids, which `irc.runtime.dtypes.load_npy` reads back.)
Loading reads the arrays with `allow_pickle=False` and builds only those types, so a file
cannot run code. Containers are tagged (`{"dict": [[key, value], ...]}`) so that int keys
(an optimizer's `state`), tuples and non-finite floats come back as they were saved.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np

from irc.frontend import torch_format
from irc.frontend.device import as_device
from irc.frontend.tensor import Tensor, tensor
from irc.runtime.dtypes import load_npy
from irc.runtime.files import atomic_file

FORMAT = "irc.save/1"
_CONTAINERS = {"dict": dict, "OrderedDict": OrderedDict, "list": list, "tuple": tuple}


def save(obj, f) -> None:
    """Write `obj` (a nest of tensors, numpy arrays, dicts, lists, tuples and Python scalars) to `f`,
    a path or a binary file object.

    A path is written atomically (irc.runtime.files): a save that fails part-way leaves the file
    that was there, an earlier checkpoint, as it was."""
    arrays: list[np.ndarray] = []
    structure = {"format": FORMAT, "value": _encode(obj, arrays)}
    if isinstance(f, (str, os.PathLike)):
        with atomic_file(f) as file:
            _write_archive(file, structure, arrays)
    else:
        _write_archive(f, structure, arrays)


def _write_archive(f, structure: dict, arrays: list[np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("structure.json", json.dumps(structure, allow_nan=False))
        for i, array in enumerate(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(f"{i}.npy", buffer.getvalue())


def load(f, map_location=None, weights_only: bool = True):
    """The nest that `irc.save` wrote to `f` (a path or a binary file object); tensors go to the
    device they were saved from, or to `map_location` ("cpu", "cuda", an `irc.device`).

    A file written by `torch.save` (a state dict, an optimizer's state, a nest of tensors; the zip
    format or the legacy one) loads too, without torch, as irc tensors on the cpu or `map_location`
    (`irc/frontend/torch_format.py`).

    Both formats are read safely, like torch's `weights_only=True`: irc's holds data only, and a
    torch file naming any global beyond tensors, storages and `OrderedDict` is refused
    (`weights_only` is accepted for PyTorch's spelling and changes nothing).
    """
    device = None if map_location is None else as_device(map_location)
    name = f if isinstance(f, (str, os.PathLike)) else "the file"
    with contextlib.ExitStack() as stack:
        if isinstance(f, (str, os.PathLike)):
            f = stack.enter_context(open(f, "rb"))
        try:
            if not zipfile.is_zipfile(f):
                f.seek(0)
                return torch_format.load_legacy(f, device)
            f.seek(0)
            archive = stack.enter_context(zipfile.ZipFile(f))
            if torch_format.is_torch_zip(archive):
                return torch_format.load_zip(archive, device)
            structure = json.loads(archive.read("structure.json"))
            if structure.get("format") != FORMAT:
                raise ValueError(f"unknown format {structure.get('format')!r}")

            def array(i: int) -> np.ndarray:
                return load_npy(io.BytesIO(archive.read(f"{i}.npy")))

            return _decode(structure["value"], array, device)
        except pickle.UnpicklingError as e:
            if str(e).startswith("irc.load"):  # a refused global, a bad storage: say which file
                raise pickle.UnpicklingError(f"{e} (in {name})") from None
            raise ValueError(f"irc.load: {name} is not a file written by irc.save or torch.save ({e})") from None
        except (zipfile.BadZipFile, KeyError, ValueError, EOFError, NotImplementedError) as e:
            # NotImplementedError: a damaged zip header naming a compression method or version zipfile lacks
            raise ValueError(
                f"irc.load: {name} is not a file written by irc.save or torch.save ({type(e).__name__}: {e})"
            ) from None


def _encode(obj, arrays: list[np.ndarray]):
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"float": repr(obj)}
    if isinstance(obj, Tensor):
        arrays.append(obj.numpy())
        return {"tensor": {"index": len(arrays) - 1, "device": obj.device, "requires_grad": obj.requires_grad}}
    if isinstance(obj, (np.ndarray, np.generic)):
        arrays.append(np.asarray(obj))
        return {"ndarray": len(arrays) - 1}
    if isinstance(obj, dict):
        kind = "OrderedDict" if isinstance(obj, OrderedDict) else "dict"
        return {kind: [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"tuple" if isinstance(obj, tuple) else "list": [_encode(v, arrays) for v in obj]}
    raise TypeError(
        f"irc.save: cannot save a {type(obj).__name__} (it saves tensors, numpy arrays, dicts, lists, tuples, "
        "str, int, float, bool and None)"
    )


def _decode(value, array, device):
    if not isinstance(value, dict):
        return value
    ((kind, body),) = value.items()
    if kind == "float":
        return float(body)
    if kind == "tensor":
        where = device or body["device"]
        return tensor(array(body["index"]), device=where, requires_grad=body["requires_grad"])
    if kind == "ndarray":
        return array(body)
    if kind in ("dict", "OrderedDict"):
        return _CONTAINERS[kind]((_decode(k, array, device), _decode(v, array, device)) for k, v in body)
    if kind in ("list", "tuple"):
        return _CONTAINERS[kind](_decode(v, array, device) for v in body)
    raise ValueError(f"unknown entry {kind!r}")
