"""`irc.jit`: trace once per input signature, compile the static graph, cache it."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable

import numpy as np

from irc.compiler.cache import compile_cached
from irc.errors import FrontendError
from irc.frontend.graph import data_node, user_location
from irc.frontend.pytree import flatten, unflatten
from irc.frontend.spec import Spec
from irc.frontend.tensor import Tensor, as_array, keys_unchanged
from irc.frontend.tracing import TracedProgram, trace_program
from irc.runtime.devices import move
from irc.targets import kinds


def _as_array(x):
    """A numpy array (or, for a tensor on a GPU device, its DeviceArray)."""
    if isinstance(x, Tensor):
        return x._value()
    return as_array(x, where="irc.jit input")  # irc.tensor's dtype rules, without a copy


#: traces of one input signature (guard values changing between calls) at which `irc.jit` warns
RETRACE_WARNING = 8


class JitFunction:
    """A function compiled per input signature (shapes and dtypes); see `irc.jit`.

    Tensors the function captures (model parameters, buffers) are inputs read
    on every call; in-place updates and `.grad` writes it makes (an optimizer
    step) are written back after every call, so a whole training step can be
    one static graph. In-place updates of its arguments go back to the call's
    own tensors (or numpy arrays), as the eager call would make them. Where the
    trace reads a captured tensor's `.grad` as it was before the call (backward()
    accumulating into it, without a `zero_grad()` first), whether it is None is
    guarded like the Python values below, and so are, for the modules the function
    refers to (its globals and closure variables, or the module `irc.jit(model)` got), each
    module's `training` flag (`model.eval()` after a call), which tensors its parameters and
    buffers are (a replaced `nn.Parameter`), its attributes that hold Python scalars
    (`model.scale = 3.0`), the scalar globals and closure variables the function names
    (`lr = 0.1`), and whether each captured tensor requires grad
    (`requires_grad_(False)` to freeze a layer). Python values the
    trace guards (`irc.frontend.tracing.guard`: an optimizer's parameter groups
    and which hyper-parameters are zero) are checked on every call; when one
    changed, the function is traced again.
    """

    def __init__(self, fn: Callable, target: str | dict = "llvm"):
        self.fn = fn
        self.target = target
        #: input signature -> [(program, lowering)], one per set of guard values
        self._cache: dict[tuple, list[tuple]] = {}
        functools.update_wrapper(self, fn)

    def _split(self, args, kwargs) -> tuple[list, tuple]:
        """Tensors and arrays, also inside (nested) tuples, lists and dicts of the arguments, are the inputs
        (returned as they are); everything else (Python scalars, strings, None, the nesting) is static:
        part of the signature."""
        return flatten((args, kwargs), _is_input, getattr(self.fn, "__name__", "function") + "'s arguments")

    def _compiled(self, args, kwargs) -> tuple[TracedProgram, object, list[np.ndarray]]:
        program, lowering, arrays, _ = self._compiled_with_inputs(args, kwargs)
        return program, lowering, arrays

    def _compiled_with_inputs(self, args, kwargs) -> tuple[TracedProgram, object, list[np.ndarray], list]:
        """`_compiled`, and the input leaves themselves (tensors and arrays) that in-place updates go back to."""
        leaves, tree = self._split(args, kwargs)
        arrays = [_as_array(a) for a in leaves]
        key = (tuple((a.shape, a.dtype.str) for a in arrays), tree)
        entries = self._cache.setdefault(key, [])
        entry = next((e for e in entries if e[0].holds()), None)
        if entry is None:
            simple = tree == (("tuple", (("leaf",),) * len(args)), ("dict", (), ()))  # f(x, y, ...) of tensors

            def with_static(*tensors):
                call_args, call_kwargs = unflatten(tree, list(tensors))
                return self.fn(*call_args, **call_kwargs)

            with_static.__name__ = getattr(self.fn, "__name__", "main")
            if simple:
                with_static.__signature__ = inspect.signature(self.fn)  # the hl arguments take the parameter names
            state = _module_state(self.fn)
            before = state() if state is not None else None  # as the call finds them, not as the trace leaves them
            with keys_unchanged():  # the calls draw the keys, not the trace
                specs = [Spec.of(a) for a in arrays]
                program = trace_program(with_static, specs, capture_state=True, device=self.device)
            if state is not None:
                program.guards.append((state, before))
            entry = (program, compile_cached(program.module, self.target))
            entries.append(entry)
            if len(entries) == RETRACE_WARNING:
                warnings.warn(
                    f"irc.jit traced {with_static.__name__} {len(entries)} times for the same input shapes: Python"
                    " values it bakes in (module attributes, scalar globals or closure variables, training flags)"
                    " keep changing between calls; pass a changing number as a tensor argument",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return entry[0], entry[1], arrays, leaves

    def lower(self, *args, **kwargs):
        """The `Lowering` for these inputs: `.stages` (stage -> IR text) and `.dump(dir)`."""
        return self._compiled(args, kwargs)[1]

    @functools.cached_property
    def _target(self) -> kinds.Target:
        """The Target object of `self.target`, built at the first call (an unknown kind fails there)."""
        return kinds.target(self.target)

    @property
    def device(self) -> str:
        """Where the compiled code runs and its results live: "cpu", "cuda" or "opencl"."""
        return self._target.device

    def __call__(self, *args, **kwargs):
        program, lowering, arrays, leaves = self._compiled_with_inputs(args, kwargs)
        arrays.extend(_implicit_value(kind, value) for kind, value in program.implicit_inputs)
        target = self._target
        device = target.device
        values = [move(a, device) for a in arrays]  # data stays on the device between calls
        outputs = target.run(lowering, values)
        own = outputs[: program.num_outputs]
        if device == "cpu" and len(outputs) > program.num_outputs:
            # the CPU outputs of a call are views of shared arenas (see irc.runtime.executor):
            # a result the caller keeps (one per step) must not keep its step's updated state alive
            own = [o.copy() for o in own]
        results = tuple(Tensor(data_node(o), device) for o in own)
        _write_back(program.updates, outputs[program.num_outputs :], leaves)
        return unflatten(program.output_tree, list(results))

    def save(self, path, *args, **kwargs):
        """Compile for these example arguments and write a step package at `path` (docs/packages.md).

        Its entry takes the explicit inputs, then the captured state (parameters, optimizer state,
        hyper-parameters, random keys: named after the modules' `named_parameters()` and the
        optimizers' state where the function refers to them, else `state0, state1, ...`), and
        returns the function's outputs, then the updated state. The manifest says which output
        updates which input and holds the state's current values, so `irc.runtime.load(path)
        .step_runner()` runs the step again and again without the compiler. Nothing is run here.
        """
        from irc.runtime import package

        program, lowering, arrays = self._compiled(args, kwargs)
        implicit = program.implicit_inputs
        n = len(arrays)
        labels = _state_labels(self.fn)
        state = [_label(kind, value, labels, k) for k, (kind, value) in enumerate(implicit)]
        names = _unique([*_param_names(self.fn, args, kwargs, n), *state])
        index = {id(_implicit_tensor(kind, value)): n + k for k, (kind, value) in enumerate(implicit) if kind != "feed"}
        outputs, updates = [f"out{i}" for i in range(program.num_outputs)], []
        for tensor, what in program.updates:
            if what == "grad-none":
                continue
            if isinstance(tensor, int):  # an explicit argument updated in place: an output of its own (the
                outputs.append(names[tensor] + (".grad" if what == "grad" else ""))  # runner keeps no inputs)
                continue
            target = tensor if what == "node" else tensor._grad
            if target is not None and id(target) in index:
                updates.append([len(outputs), index[id(target)]])
                outputs.append(names[index[id(target)]])
            else:  # written, never read (a .grad after zero_grad): an output of its own
                name = labels.get(id(tensor), f"update{len(outputs) - program.num_outputs}")
                outputs.append(name + (".grad" if what == "grad" else ""))
        values = [_host(_implicit_value(kind, value)) for kind, value in implicit]
        keys = [names[n + k] for k, (kind, value) in enumerate(implicit) if kind == "feed" and _is_key(value)]
        step = {"inputs": n, "outputs": program.num_outputs, "updates": updates, "keys": keys}
        step["state"] = dict(zip(names[n:], values))
        return package.save(lowering, path, input_names=names, output_names=_unique(outputs), step=step)

    @property
    def cache_size(self) -> int:
        return sum(map(len, self._cache.values()))


def _is_input(value) -> bool:
    """An argument leaf that is a runtime input of the compiled program (not a static value)."""
    return isinstance(value, (Tensor, np.ndarray, np.generic))


def _param_names(fn: Callable, args: tuple, kwargs: dict, count: int) -> list[str]:
    """The explicit inputs' names: `fn`'s parameters when it takes `count` tensors positionally, else arg0, ..."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if not kwargs and len(args) == count == len(params) and all(_is_input(a) for a in args):
        return params
    return [f"arg{i}" for i in range(count)]


def _referenced(fn: Callable) -> dict[str, object]:
    """`fn`'s globals and closure variables by name, the `self` of a bound method, and `fn` itself where it
    is a module (`irc.jit(model)`)."""
    try:
        seen = inspect.getclosurevars(getattr(fn, "__func__", fn))
        found = {**seen.globals, **seen.nonlocals}
    except (TypeError, ValueError):
        found = {}
    if getattr(fn, "__self__", None) is not None:
        found = {"self": fn.__self__, **found}
    if _is_module(fn):
        found = {"fn": fn, **found}
    return found


def _is_module(value) -> bool:
    return callable(getattr(value, "modules", None)) and hasattr(value, "training")


#: Python values a trace bakes in as constants, which `_module_state` watches
_SCALARS = (bool, int, float, complex, str, type(None))


def _module_state(fn: Callable) -> Callable[[], tuple] | None:
    """A check of the Python state a trace of `fn` bakes in. For the modules `fn` refers to (`_referenced`)
    and their submodules: each one's `training` flag (dropout, batch norm), which tensor each of its
    parameters and buffers is (`model.fc.weight = nn.Parameter(...)` replaces one), and its attributes
    that hold Python scalars (`model.scale = 3.0`; torch.compile guards these too). For `fn` itself: the
    scalar globals its code names and the scalar closure variables it holds (`lr = 0.1` after a call).
    The trace made them constants; a call that finds one changed traces again. None where there is
    nothing to watch."""
    roots = [v for v in _referenced(fn).values() if _is_module(v)]
    modules = list({id(m): m for root in roots for m in root.modules()}.values())
    # (a module's attribute dict, a name in it holding a scalar now: `training` among them)
    attrs = [(m.__dict__, k) for m in modules for k, v in m.__dict__.items() if isinstance(v, _SCALARS)]
    tensors = [d for m in modules for d in (m.__dict__.get("_parameters", {}), m.__dict__.get("_buffers", {}))]
    cells, names, namespace = _python_scalars(fn)
    if not modules and not cells and not names:
        return None

    def check() -> tuple:
        return (
            tuple([d.get(k) for d, k in attrs]),
            tuple([id(t) for d in tensors for t in d.values()]),
            tuple([c.cell_contents for c in cells]),
            tuple([namespace.get(n) for n in names]),
        )

    return check


def _python_scalars(fn: Callable) -> tuple[list, list[str], dict]:
    """(closure cells, global names, the globals) of `fn`'s variables that hold Python scalars now."""
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if code is None:
        return [], [], {}
    cells = []
    for cell in func.__closure__ or ():
        try:
            if isinstance(cell.cell_contents, _SCALARS):
                cells.append(cell)
        except ValueError:  # a cell not yet assigned
            pass
    namespace = func.__globals__
    names = [n for n in code.co_names if n in namespace and isinstance(namespace[n], _SCALARS)]
    return cells, names, namespace


def _state_labels(fn: Callable) -> dict[int, str]:
    """id(tensor) -> a name, for the modules' parameters and buffers and the optimizers' state `fn` refers to.

    Modules and optimizers are found among `fn`'s globals and closure variables, and as the
    `self` of a bound method (duck-typed: `named_parameters`, `param_groups`); with more than
    one module, names get the variable's name first.
    """
    found = _referenced(fn)
    modules = {k: v for k, v in found.items() if callable(getattr(v, "named_parameters", None))}
    optimizers = [
        v for v in found.values() if hasattr(v, "param_groups") and isinstance(getattr(v, "state", None), dict)
    ]
    labels: dict[int, str] = {}
    for var, module in modules.items():
        prefix = f"{var}." if len(modules) > 1 else ""
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            labels.setdefault(id(tensor), prefix + name)
            if tensor._grad is not None:
                labels.setdefault(id(tensor._grad), prefix + name + ".grad")
    for k, optimizer in enumerate(optimizers):
        for i, p in enumerate(q for group in optimizer.param_groups for q in group["params"]):
            owner = labels.get(id(p), f"param{i}" if len(optimizers) == 1 else f"opt{k}.param{i}")
            labels.setdefault(id(p), owner)
            for key, value in optimizer.state.get(p, {}).items():
                if isinstance(value, Tensor):
                    labels.setdefault(id(value), f"{owner}.{key}")
    return labels


def _label(kind: str, value, labels: dict[int, str], k: int) -> str:
    if kind == "feed":
        return "rng_key" if _is_key(value) else getattr(value, "state_name", None) or f"state{k}"
    if kind == "grad":
        return labels[id(value)] + ".grad" if id(value) in labels else f"state{k}"
    return labels.get(id(value), f"state{k}")


def _implicit_tensor(kind: str, value) -> Tensor:
    """The tensor an implicit input reads now: a captured tensor, or the `.grad` of one."""
    return value._grad if kind == "grad" else value


def _implicit_value(kind: str, value):
    """An implicit input's value for this call (`TracedProgram.implicit_inputs`)."""
    return value() if kind == "feed" else _state_value(_implicit_tensor(kind, value))


def _is_key(feed: Callable) -> bool:
    """Whether a feed draws random keys (`irc.frontend.tensor.rng_key`): a step package draws them itself."""
    return getattr(feed, "__name__", "") == "_fresh_key"


def _unique(names: list[str]) -> list[str]:
    """`names` with later repeats suffixed `_1`, `_2`, ..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        base, count = name, seen.get(name, 0)
        while name in seen:
            count += 1
            name = f"{base}_{count}"
        seen[base] = count
        seen[name] = seen.get(name, 0)
        out.append(name)
    return out


def _host(value) -> np.ndarray:
    return value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)


def _state_value(tensor: Tensor):
    """`tensor._value()`, read straight off its node when it is realized (model state always is)."""
    value = tensor._node.value
    return tensor._value() if value is None else value


def _write_back(updates, values, inputs: list) -> None:
    """Apply a traced step's in-place updates and gradient writes; those of an explicit argument (an int
    index) go to this call's input: its tensor, or its numpy array (updated in place, as eager code does)."""
    values = iter(values)
    for tensor, what in updates:
        if isinstance(tensor, int):
            tensor = inputs[tensor]
            if not isinstance(tensor, Tensor):  # an array argument: eager code would have changed it
                value = _host(next(values))
                if what != "node" or not isinstance(tensor, np.ndarray) or not tensor.flags.writeable:
                    raise FrontendError(
                        "the jitted function updates an argument that is not an irc tensor or a writable numpy "
                        f"array in place ({type(tensor).__name__}); pass an irc tensor",
                        user_location()[:2],
                    )
                np.copyto(tensor, value.reshape(tensor.shape), casting="unsafe")
                continue
        if what == "grad-none":
            tensor._grad = None
            continue
        value = move(next(values), tensor.device)
        if what == "node":
            old = tensor._node
            node = data_node(value)
            node.requires_grad, node.leaf, node.owner = old.requires_grad, old.leaf, old.owner
            tensor._set_node(node)
        elif tensor._grad is not None:
            tensor._grad._node = data_node(value)
        else:
            tensor._grad = Tensor(data_node(value), tensor.device)


def jit(fn: Callable | None = None, *, target: str | dict = "llvm"):
    """Compile `fn` as a static graph: traced once per input signature, then cached.

    >>> @irc.jit(target="llvm")
    ... def f(x, w):
    ...     return (x @ w).relu().sum()
    >>> f(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)).item()
    12.0
    """
    if fn is None:
        return lambda f: JitFunction(f, target)
    return JitFunction(fn, target)


def example_inputs_of(fn: Callable) -> list[Spec]:
    """The Specs declared as `fn`'s parameter annotations."""
    specs = []
    for p in inspect.signature(fn).parameters.values():
        if not isinstance(p.annotation, Spec):
            raise FrontendError(f"parameter {p.name!r} of {fn.__name__} has no irc.Spec annotation")
        specs.append(p.annotation)
    return specs
