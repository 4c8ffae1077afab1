"""Running a step package (`JitFunction.save`) repeatedly, without the compiler.

    step = irc.runtime.load("train_step.ircpkg").step_runner()
    for x, t in batches:
        (loss,) = step(x, t)              # the state is fed in and the updates written back
    step.state["0.weight"]                # numpy, on request; step.load_state({"lr": 0.01})

A step package's first entry takes the explicit inputs followed by the state
(parameters, optimizer state, hyper-parameters) and returns the function's
outputs followed by the updated state; its manifest entry's `step` says which
output updates which input and where the initial state is (docs/packages.md).
On cuda and opencl the state stays on the device between calls: each call
uploads only the explicit inputs given as numpy arrays (DeviceArrays are used
as they are) and copies nothing back.
"""

from __future__ import annotations

import io

import numpy as np

from irc.errors import IRCError
from irc.runtime.dtypes import load_npy
from irc.runtime.plan import DeviceArray


def _host(value) -> np.ndarray:
    return value.to_numpy() if isinstance(value, DeviceArray) else np.array(value)


class StepRunner:
    """Calls one step entry of a loaded package, keeping its state (on the package's device).

    `__call__(*inputs, **named)` takes the explicit inputs (numpy arrays or DeviceArrays) and
    returns the function's own outputs, on the device (`DeviceArray`s for cuda / opencl).
    Random keys the step draws are drawn here for every call, from numpy's generator seeded
    with `seed` (other numbers than irc's own stream). `state` gives every state value by name as numpy (inputs, and outputs that update no
    input, such as `.grad`s written after `zero_grad`, once a step wrote them); `load_state`
    replaces some (a new learning rate, saved weights).
    """

    def __init__(self, package, name: str | None = None, seed: int | None = None):
        entry = package.entry(name)
        manifest_entry = next(e for e in package.manifest["entries"] if e["name"] == entry.name)
        step = manifest_entry.get("step")
        if step is None:
            raise IRCError(f"{package.path}: {entry.name} is not a step (a package written by JitFunction.save)")
        self.entry = entry
        self.num_inputs = int(step["inputs"])
        self.num_outputs = int(step["outputs"])
        self.inputs = entry.inputs[: self.num_inputs]
        self.state_specs = entry.inputs[self.num_inputs :]
        #: output index -> index into the state
        self.updates = {int(o): int(i) - self.num_inputs for o, i in step["updates"]}
        #: outputs after the function's own that update no input: output index -> name
        self.written = {
            k: entry.outputs[k].name for k in range(self.num_outputs, len(entry.outputs)) if k not in self.updates
        }
        initial = {n: load_npy(io.BytesIO(package.members[f])) for n, f in step["state"].items()}
        self._state = [self._to_device(spec, initial[spec.name]) for spec in self.state_specs]
        self._written: dict[str, object] = {}
        #: random keys (Dropout, irc.randn in the step): drawn afresh for every call, as irc.jit does
        self.keys = [self.state_names.index(k) for k in step.get("keys", [])]
        self.rng = np.random.default_rng(seed)

    def _to_device(self, spec, value):
        if not isinstance(value, DeviceArray):
            value = np.asarray(value)
            if value.dtype != spec.dtype and np.can_cast(value.dtype, spec.dtype, casting="same_kind"):
                value = value.astype(spec.dtype)
        if tuple(value.shape) != spec.shape or np.dtype(value.dtype) != np.dtype(spec.dtype):
            raise IRCError(
                f"{self.entry.name}: {spec.name} is {np.dtype(value.dtype)}{list(value.shape)}, "
                f"the package expects {spec.dtype}{list(spec.shape)}"
            )
        return self.entry.to_device(value)

    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.state_specs]

    def __call__(self, *args, **kwargs) -> tuple:
        names = [s.name for s in self.inputs]
        if len(args) > len(names):
            raise IRCError(f"{self.entry.name} takes {len(names)} inputs ({', '.join(names)}), got {len(args)}")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise IRCError(f"{self.entry.name}: unexpected or repeated input {key!r} (inputs: {', '.join(names)})")
            values[key] = value
        if missing := [n for n in names if n not in values]:
            raise IRCError(f"{self.entry.name}: missing input {', '.join(missing)} (inputs: {', '.join(names)})")
        inputs = [self._to_device(spec, values[spec.name]) for spec in self.inputs]
        for i in self.keys:
            self._state[i] = self._to_device(self.state_specs[i], self.rng.integers(0, 2**62, (), np.int64))
        outputs = self.entry.run_device(*inputs, *self._state)
        for k, i in self.updates.items():
            self._state[i] = outputs[k]
        for k, name in self.written.items():
            self._written[name] = outputs[k]
        return tuple(outputs[: self.num_outputs])

    @property
    def state(self) -> dict[str, np.ndarray]:
        """Every state value by name, copied to numpy."""
        values = dict(zip(self.state_names, self._state))
        return {name: _host(v) for name, v in {**values, **self._written}.items()}

    @property
    def device_state(self) -> dict[str, object]:
        """The state values as they are held (DeviceArrays on cuda / opencl), no copies."""
        return {**dict(zip(self.state_names, self._state)), **self._written}

    def load_state(self, values: dict) -> None:
        """Replace state inputs by name (numpy arrays, scalars or DeviceArrays)."""
        specs = {s.name: i for i, s in enumerate(self.state_specs)}
        for name, value in values.items():
            if name not in specs:
                raise IRCError(f"{self.entry.name}: no state named {name!r} (state: {', '.join(specs)})")
            self._state[specs[name]] = self._to_device(self.state_specs[specs[name]], value)

    def __repr__(self) -> str:
        return f"StepRunner({self.entry.name}: inputs {[s.name for s in self.inputs]}, state {self.state_names})"
