"""Read the files `torch.save` writes (state dicts, optimizer state, nests of tensors) without torch.

    >>> model.load_state_dict(irc.load("resnet.pt"))      # written by torch.save(model.state_dict(), ...)

A torch file is a pickle whose tensors point into raw storages. The current format is a zip
archive: `<name>/data.pkl` (the pickle), `<name>/data/<key>` (one storage's bytes each),
`<name>/byteorder`; the legacy format (`_use_new_zipfile_serialization=False`) is a stream of
pickles followed by the storages. Either way the pickle is read by `_Unpickler`, whose
`find_class` resolves only the handful of globals a state dict needs (`_GLOBALS`) to local
stand-ins, like torch's `weights_only=True`: no torch, and a file that names any other global
(`os.system`, ...) is refused before anything of it runs.

16-bit floats load as irc's `float16` / `bfloat16`; 8- and 16-bit ints and uint8 load as int32
(exactly), as irc has no narrower integer types.
"""

from __future__ import annotations

import collections
import functools
import io
import pickle
import zipfile

import numpy as np

from irc.frontend.dtypes import bfloat16
from irc.frontend.tensor import Tensor, tensor

#: torch's storage classes -> the dtype of their elements
_STORAGE_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
#: torch's dtype objects (`torch.float32`, pickled as globals) -> dtype names
_TORCH_DTYPES = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32", "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8",
    "bool": "bool",
}  # fmt: skip
#: a dtype irc lacks -> the one its values load as (exactly)
_WIDENED = {"int16": "int32", "int8": "int32", "uint8": "int32"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """Stands in for `torch.FloatStorage` & co. (and `torch.storage.UntypedStorage`: bytes)."""

    def __init__(self, dtype: str):
        self.dtype = dtype


class _Storage:
    """A storage's elements as a flat numpy array (`bfloat16`: ml_dtypes' type)."""

    def __init__(self, data: bytes, dtype: str, big_endian: bool = False):
        if dtype == "bfloat16":  # numpy has no bfloat16: its bits, relabelled
            bits = np.frombuffer(data, ">u2" if big_endian else "<u2").astype(np.uint16)
            self.array = bits.view(bfloat16)
        else:
            array = np.frombuffer(data, np.dtype(dtype).newbyteorder(">" if big_endian else "<"))
            self.array = array.astype(array.dtype.newbyteorder("="))


def _rebuild_tensor(
    storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None, *, device=None
):
    """`torch._utils._rebuild_tensor_v2`: a (possibly strided, offset) view of a storage, copied."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("irc.load: a tensor whose storage is not one of the file's storages")
    array = storage.array
    itemsize = array.itemsize
    needed = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else 0
    if offset < 0 or needed > array.size or min(stride, default=0) < 0:
        raise pickle.UnpicklingError(f"irc.load: a tensor of size {tuple(size)} reaches past its storage")
    view = np.lib.stride_tricks.as_strided(
        array[offset:], tuple(size), tuple(s * itemsize for s in stride), writeable=False
    )
    array = np.array(view)  # a copy: tensors sharing a storage do not share memory in irc
    widened = _WIDENED.get(str(array.dtype))
    array = array.astype(widened) if widened else array
    return tensor(array, device=device or "cpu", requires_grad=bool(requires_grad))


#: the class a saved `nn.Parameter` loads as: irc.nn registers its `Parameter` when it is imported (this
#: layer sits below it); a plain tensor requiring grad as saved before that
parameter_class: type | None = None


def _rebuild_parameter(data, requires_grad, backward_hooks=None, state=None):
    """`torch._utils._rebuild_parameter` (an nn.Parameter): an `irc.nn.Parameter`, requiring grad as saved."""
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("irc.load: a Parameter of something other than a tensor")
    if parameter_class is not None:
        return parameter_class(data, requires_grad=bool(requires_grad))
    return data.detach().requires_grad_(bool(requires_grad))


#: (module, name) -> what the pickle gets for that global; every other global is refused
_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): tuple,
    ("torch.storage", "UntypedStorage"): _StorageType("uint8"),
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
    **{
        ("torch", name): bfloat16 if dtype == "bfloat16" else np.dtype(_WIDENED.get(dtype, dtype))
        for name, dtype in _TORCH_DTYPES.items()
    },
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storage, device=None, dry_run: bool = False):
        super().__init__(file)
        self._storage = storage
        self._device = device
        self._dry_run = dry_run  # only collect the storages' dtypes: build no tensors

    def find_class(self, module: str, name: str):
        if (module, name) in _GLOBALS:
            found = _GLOBALS[module, name]
            if self._dry_run and found in (_rebuild_tensor, _rebuild_parameter):
                return lambda *args: None
            return functools.partial(found, device=self._device) if found is _rebuild_tensor else found
        raise pickle.UnpicklingError(
            f"irc.load: refusing to load global {module}.{name}: a torch file may only hold tensors, "
            "dicts, lists, tuples, numbers and strings (like torch.load(weights_only=True))"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"irc.load: unknown persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"irc.load: unknown storage type {storage_type!r}")
        return self._storage(key, storage_type.dtype)


def is_torch_zip(archive: zipfile.ZipFile) -> bool:
    return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())


def load_zip(archive: zipfile.ZipFile, device=None):
    """The object of a torch zip-format file (`torch.save` since 1.6)."""
    (pkl,) = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    prefix = pkl[: -len("data.pkl")]
    names = set(archive.namelist())
    big_endian = f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() == b"big"
    loaded: dict[str, _Storage] = {}

    def storage(key: str, dtype: str) -> _Storage:
        if key not in loaded:
            loaded[key] = _Storage(archive.read(f"{prefix}data/{key}"), dtype, big_endian)
        return loaded[key]

    return _Unpickler(io.BytesIO(archive.read(pkl)), storage, device).load()


def load_legacy(f, device=None):
    """The object of a torch file in the legacy (pre-1.6, non-zip) format: three small pickles
    (magic number, protocol version, system info), the object's pickle, the list of storage keys,
    then each storage as an int64 element count and its bytes. The storages follow the pickle
    that uses them, so it is read twice: once for the storages' dtypes, once for real."""
    if _Unpickler(f, None).load() != _LEGACY_MAGIC:
        raise ValueError("not a torch file (neither a zip archive nor torch's legacy magic number)")
    _Unpickler(f, None).load()  # the protocol version
    _Unpickler(f, None).load()  # the system info (endianness, type sizes)
    start = f.tell()
    dtypes: dict[str, str] = {}
    _Unpickler(f, lambda key, dtype: dtypes.setdefault(key, dtype), dry_run=True).load()
    storages: dict[str, _Storage] = {}
    for key in _Unpickler(f, None).load():
        dtype = dtypes[str(key)]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        storages[str(key)] = _Storage(f.read(count * itemsize), dtype)
    f.seek(start)
    return _Unpickler(f, lambda key, dtype: storages[key], device).load()
