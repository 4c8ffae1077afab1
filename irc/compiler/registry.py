"""The table of irc's passes, by the name `irc opt -p` and the pipeline use.

Passes are imported lazily so that `irc stages` or the runtime never pay for
modules they do not need.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from xdsl.passes import ModulePass, PassPipeline

# pass name -> "module:ClassName"
_PASSES: dict[str, str] = {
    "hl-autodiff": "irc.transforms.autodiff:AutodiffPass",
    "hl-decompose": "irc.transforms.decompose:HLDecomposePass",
    "hl-canonicalize": "irc.transforms.canonicalize:HLCanonicalizePass",
    "hl-cse": "irc.transforms.canonicalize:HLCSEPass",
    "hl-dce": "irc.transforms.canonicalize:HLDCEPass",
    "convert-hl-to-linalg": "irc.conversions.hl_to_linalg:ConvertHLToLinalgPass",
    "linalg-fuse-elementwise": "irc.conversions.fuse_elementwise:FuseElementwisePass",
    "irc-bufferize": "irc.conversions.bufferize:BufferizePass",
    "buffer-reuse": "irc.conversions.bufferize:BufferReusePass",
    "convert-linalg-to-loops": "irc.conversions.linalg_to_loops:ConvertLinalgToLoopsPass",
}


def _loader(spec: str) -> Callable[[], type[ModulePass]]:
    def load() -> type[ModulePass]:
        module_name, class_name = spec.split(":")
        return getattr(importlib.import_module(module_name), class_name)

    return load


def available_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """name -> loader of the pass class (xDSL's PassPipeline.parse_spec format)."""
    return {name: _loader(spec) for name, spec in _PASSES.items()}


def pass_names() -> list[str]:
    return sorted(_PASSES)


class UnknownPassError(ValueError):
    """A pass name or option that irc does not know."""


def parse_pipeline(spec: str) -> PassPipeline:
    """`"a,b{opt=1}"` -> PassPipeline; unknown names list every known pass."""
    try:
        return PassPipeline.parse_spec(available_passes(), spec)
    except Exception as e:  # xDSL raises ValueError / PassPipelineParseError
        raise UnknownPassError(f"{e}\nknown passes: {', '.join(pass_names())}") from None
