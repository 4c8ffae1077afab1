"""`irc.backends`: the PyTorch backend flags scripts set or ask, with irc's answers.

irc has neither Apple's MPS nor cuDNN: `irc.backends.mps.is_available()` is False, and the
`irc.backends.cudnn` flags (`benchmark`, `deterministic`, `enabled`, `allow_tf32`) may be set but change
nothing. The TF32 switches (`irc.backends.cuda.matmul.allow_tf32`, `irc.set_float32_matmul_precision`)
are kept as PyTorch keeps them; irc's float32 matmuls run in full float32 whatever they say (it has no
TF32 kernels yet: docs/gpu.md), which is what "allow" permits.
"""

from __future__ import annotations

import warnings

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
    read from and written to the float32 matmul precision (`set_float32_matmul_precision`)."""

    _precision = "highest"

    @property
    def allow_tf32(self) -> bool:
        return _PRECISIONS[self._precision]

    def __setattr__(self, name: str, value) -> None:
        if name != "allow_tf32":
            raise AttributeError(f"Unknown attribute {name}")
        type(self)._precision = "high" if value else "highest"


class cuda:  # noqa: N801
    """PyTorch's CUDA backend flags."""

    matmul = _CudaMatmul()

    @staticmethod
    def is_built() -> bool:
        """irc generates CUDA code on any machine (running it needs a GPU and cuda-python)."""
        return True


def set_float32_matmul_precision(precision: str) -> None:
    """`"highest"` (full float32), `"high"` or `"medium"` (TF32 allowed), as `torch.set_float32_matmul_precision`;
    another value is ignored with PyTorch's warning."""
    if precision not in _PRECISIONS:
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current setFloat32MatmulPrecision "
            "call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _CudaMatmul._precision = precision


def get_float32_matmul_precision() -> str:
    return _CudaMatmul._precision
