"""`irc.backends`: the PyTorch backend flags scripts set or ask, with irc's answers.

irc has neither Apple's MPS nor cuDNN: `irc.backends.mps.is_available()` is False, and the
`irc.backends.cudnn` flags (`benchmark`, `deterministic`, `enabled`, `allow_tf32`) may be set but change
nothing. The TF32 switches keep PyTorch's state and defaults (off, "highest") and mean what they mean
there: while they allow TF32, float32 matmuls compiled for a cuda target of sm_80 or newer run on TF32
tensor cores where their shapes fit a tile (docs/gpu.md). The switch in effect when a function is
compiled (its first call, `irc.jit(...).lower`, an eager realize) becomes the target's option
`"tf32": True` (`irc.targets.cuda.CUDATarget.resolve`), so it is part of the compile cache's key; code
compiled before keeps its precision. CPU and OpenCL matmuls stay full float32, as do targets that say
`"tf32": False`.

    irc.backends.cuda.matmul.allow_tf32 = True       # or irc.set_float32_matmul_precision("high")
    step = irc.jit(f, target={"kind": "cuda", "arch": "sm_90"})   # compiled at its first call: TF32 matmuls
"""

from __future__ import annotations

import warnings

from irc.targets.cuda import CUDATarget

#: `set_float32_matmul_precision`'s values, and whether each allows TF32 (PyTorch's)
_PRECISIONS = {"highest": False, "high": True, "medium": True}


class mps:  # noqa: N801 (PyTorch's names)
    """Apple's Metal backend: not in irc."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False


class cudnn:  # noqa: N801
    """cuDNN's flags: irc's CUDA kernels are its own, so setting them changes nothing."""

    enabled = True
    benchmark = False
    deterministic = False
    allow_tf32 = True  # PyTorch's default for convolutions

    @staticmethod
    def is_available() -> bool:
        return False


class _CudaMatmul:
    """`irc.backends.cuda.matmul`: whether float32 matmuls on CUDA may use TF32 (PyTorch's default: no),
    read from and written to the float32 matmul precision (`set_float32_matmul_precision`), and handed
    to the cuda target (`CUDATarget.allow_tf32`)."""

    _precision = "highest"

    @property
    def allow_tf32(self) -> bool:
        return _PRECISIONS[self._precision]

    def __setattr__(self, name: str, value) -> None:
        if name != "allow_tf32":
            raise AttributeError(f"Unknown attribute {name}")
        _set_precision("high" if value else "highest")


def _set_precision(precision: str) -> None:
    """The float32 matmul precision, and what cuda targets resolve with from now on."""
    _CudaMatmul._precision = precision
    CUDATarget.allow_tf32 = _PRECISIONS[precision]


class cuda:  # noqa: N801
    """PyTorch's CUDA backend flags."""

    matmul = _CudaMatmul()

    @staticmethod
    def is_built() -> bool:
        """irc generates CUDA code on any machine (running it needs a GPU and cuda-python)."""
        return True


def set_float32_matmul_precision(precision: str) -> None:
    """`"highest"` (full float32), `"high"` or `"medium"` (TF32 allowed: cuda matmuls compiled from now on
    use TF32 tensor cores on sm_80+), as `torch.set_float32_matmul_precision`; another value is ignored
    with PyTorch's warning."""
    if precision not in _PRECISIONS:
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current setFloat32MatmulPrecision "
            "call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _set_precision(precision)


def get_float32_matmul_precision() -> str:
    return _CudaMatmul._precision
