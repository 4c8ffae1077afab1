"""`irc.amp`: PyTorch's `GradScaler` (loss scaling for float16 training), as `torch.amp.GradScaler`.

    scaler = irc.amp.GradScaler("cuda", enabled=(dtype == "float16"))
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)            # optional: before clipping gradients
    scaler.step(optimizer)                # skipped when a gradient is inf or nan
    scaler.update()                       # the scale backs off after such a step and grows after 2000 good ones

The loss is multiplied by the scale before `backward()`, so that small float16 gradients do not
flush to zero; the gradients are divided by it again before the optimizer's step. As in PyTorch, a
scaler for `"cuda"` where CUDA is not available warns and is disabled (every method passes through),
which is what scripts such as nanoGPT's `train.py` get on a CPU. Autocast is not part of irc: models
run in the dtype of their parameters (`model.half()`).
"""

from __future__ import annotations

import warnings

from irc.errors import FrontendError
from irc.frontend.autograd import no_grad
from irc.frontend.graph import Tracing, user_location
from irc.frontend.tensor import Tensor

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    """Dynamic loss scaling with PyTorch's defaults, methods and state dict."""

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ):
        if enabled and device == "cuda":
            from irc.runtime import cuda

            if cuda.device_count() == 0:  # as irc.cuda.is_available()
                file, line, _ = user_location()
                message = "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling."
                warnings.warn_explicit(message, UserWarning, file, line)
                enabled = False
        if growth_factor <= 1.0:
            raise ValueError("The growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise ValueError("The backoff factor must be < 1.0.")
        self._device = device
        self._enabled = enabled
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._optimizers: dict[int, list] = {}  # id(optimizer) -> [stage, found an inf or nan]

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """`outputs` (a tensor, or a list or tuple of them) times the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, list | tuple):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer) -> list:
        return self._optimizers.setdefault(id(optimizer), [_READY, False])

    def unscale_(self, optimizer) -> None:
        """Divide `optimizer`'s gradients by the scale (in place) and note whether any is inf or nan."""
        if not self._enabled:
            return
        if Tracing.depth:
            raise FrontendError(
                "GradScaler decides on a value (whether a gradient is inf or nan) before each step, which "
                "irc.jit cannot trace: run the scaled step eagerly, or train without a scaler (float32)",
                user_location()[:2],
            )
        state = self._state(optimizer)
        if state[0] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state[0] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inverse = 1.0 / self._scale
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        found = False
        with no_grad():
            for grad in grads:
                grad.mul_(inverse)
            if grads:
                found = not all(bool(g.isfinite().all()) for g in grads)
        state[:] = [_UNSCALED, found]

    def step(self, optimizer, *args, **kwargs):
        """`optimizer.step(...)` on unscaled gradients, unless one of them is inf or nan (then None)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state[0] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state[0] == _READY:
            self.unscale_(optimizer)
        result = None if state[1] else optimizer.step(*args, **kwargs)
        state[0] = _STEPPED
        return result

    def update(self, new_scale: float | None = None) -> None:
        """Back the scale off if a step this round found an inf or nan, else grow it every `growth_interval`
        good rounds; or set `new_scale`."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        else:
            if not self._optimizers:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(found for _, found in self._optimizers.values()):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._optimizers = {}

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler."
            )
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
