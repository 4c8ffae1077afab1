"""Tiered eager execution (docs/eager.md): the numpy interpreter tier, the compiled tier and the
switch-over between them give the same values and gradients; IRC_EAGER and irc.set_eager_mode
pick the tier; the interpreter tier never imports TVM; a failed background compile is reported."""

import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import irc
import irc.nn as nn
import irc.optim as optim
from irc.frontend import realize
from irc.runtime.blas import blas_threads
from tests.e2e.test_random_graphs import build, programs
from tests.helpers import TOLERANCES

torch = pytest.importorskip("torch")


def run_program(fn, arrays):
    """fn's value and the gradients of its sum w.r.t. every input, realized as one program."""
    inputs = [irc.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    if out.requires_grad:
        out.sum().backward()
    wanted = [out, *(x.grad for x in inputs if x.grad is not None)]
    return realize.realize_all([t._node for t in wanted])


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        tol = TOLERANCES.get(w.dtype)
        if tol is None:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=50 * tol["rtol"], atol=50 * tol["atol"])


@contextlib.contextmanager
def _empty_compile_cache(directory):
    """A disk cache of its own and an empty in-process cache: examples with the same program after hl-opt
    (all zero-size ones fold to `hl.full`) would otherwise run compiled from their first call. The
    directory outlives the example: the compile worker may still hand out entries it wrote there."""
    from irc.compiler import cache

    old = os.environ["IRC_CACHE_DIR"]
    os.environ["IRC_CACHE_DIR"] = str(directory)
    cache.clear_memory()
    try:
        yield
    finally:
        os.environ["IRC_CACHE_DIR"] = old


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(programs(), st.integers(0, 2**16))
def test_random_programs_and_gradients_agree_across_the_switch_over(tmp_path_factory, program, seed):
    """auto: run 1 interprets, run 2 interprets and starts the background compile, run 3 is compiled."""
    shapes, *dtype, steps = program  # (shapes, dtype, steps), or (shapes, steps) with float32 only
    dtype = dtype[0] if dtype else np.float32
    m, n, k = shapes
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in [(m, n), (m, n), (n, k)]]
    fn = build(shapes, steps)
    realize._cache.clear()  # (one cache for all examples: two of them may have the same structure)
    with _empty_compile_cache(tmp_path_factory.mktemp("cache")), irc.set_eager_mode("auto"):
        interpreted = run_program(fn, arrays)
        (program,) = realize._cache.values()
        assert program.done is None
        assert_same(run_program(fn, arrays), interpreted)
        assert program.done is not None and program.done.wait(300)
        assert program.error is None and program.compiled is not None
        assert_same(run_program(fn, arrays), interpreted)
        assert program.runs == 3
    with irc.set_eager_mode("interpret"):
        assert_same(run_program(fn, arrays), interpreted)


def test_compile_mode_compiles_at_the_first_run_and_agrees(rng):
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)

    def fn(x, w):
        return (x @ w).tanh() * 2

    with irc.set_eager_mode("interpret"):
        interpreted = run_program(fn, [a, b])
    with irc.set_eager_mode("compile"):
        compiled = run_program(fn, [a, b])
    (program,) = realize._cache.values()
    assert program.runs == 2 and program.compiled is not None
    assert_same(compiled, interpreted)
    # compiled here (not in the background), it too drops its xDSL module, keeping the text the
    # compile cache printed for its key, from which it is parsed again to be interpreted
    assert program._module is None and program.prepared is None and "hl.matmul" in program.text
    with irc.set_eager_mode("interpret"):
        assert_same(run_program(fn, [a, b]), interpreted)
    assert program.runs == 3 and program._module is not None


def test_a_program_compiled_here_is_keyed_by_its_text_without_locations(rng):
    """Compiled in the process after its text came from a background compile (printed with source
    locations for the compile process), a program is still keyed in the compile cache by its text
    without locations, as irc.jit and a later process key it; its own text stays."""
    from irc.compiler import cache as compile_cache
    from irc.ir import print_module

    a = rng.standard_normal((3, 4)).astype(np.float32)

    def fn(x):
        return (x * 3).exp().sum(0)

    with irc.set_eager_mode("interpret"):
        run_program(fn, [a])
    (program,) = realize._cache.values()
    key_text = print_module(program.module)
    program.text = located = print_module(program.module, locations=True)  # as `_compile_in` leaves it
    assert located != key_text
    with irc.set_eager_mode("compile"):
        run_program(fn, [a])
    assert any(text == key_text for text, _ in compile_cache._compiled_programs)
    assert not any(text == located for text, _ in compile_cache._compiled_programs)
    assert program.text == located and program._module is None


def test_training_through_the_switch_over_matches_torch(rng):
    x, y = rng.standard_normal((16, 6)).astype(np.float32), rng.integers(0, 3, 16)
    irc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    reference = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for p, q in zip(model.parameters(), reference.parameters()):
            q.copy_(torch.from_numpy(p.numpy()))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)

    def step_both():
        """One step of each; the parameters agree after it."""
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(irc.tensor(x)), irc.tensor(y))  # held at opt.step(): one graph
        loss.backward()
        opt.step()
        ref_opt.zero_grad()
        torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        ref_opt.step()
        for p, q in zip(model.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)

    tiers = []
    with irc.set_eager_mode("auto"):
        for step in range(6):
            step_both()
            tiers.append(sum(p.compiled is not None for p in realize._cache.values()))
            if step == 2:
                assert realize.wait_compiled(300)
    assert tiers[:2] == [0, 0] and tiers[-1] >= 1, tiers  # the later steps ran compiled code
    assert not [p.error for p in realize._cache.values() if p.error]
    # running compiled code, a program no longer holds its xDSL module nor the interpreter's form of it
    compiled = [p for p in realize._cache.values() if p.compiled is not None]
    assert compiled and all(p._module is None and p.prepared is None and p.text for p in compiled)
    runs = {id(p): p.runs for p in compiled}
    with irc.set_eager_mode("interpret"):  # the module again, parsed from the text the compile was sent
        step_both()
    rerun = [p for p in compiled if p.runs > runs[id(p)]]
    assert rerun and all(p._module is not None and p.prepared is not None for p in rerun)


def test_a_failed_background_compile_warns_once_and_keeps_interpreting(monkeypatch):
    monkeypatch.setattr(realize, "eager_target", lambda device: "no-such-target")
    x = irc.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    with irc.set_eager_mode("auto"):
        values = [(x * 2 + 1).sum().item() for _ in range(2)]
        assert realize.wait_compiled(300)
        with pytest.warns(irc.CompileWarning, match="unknown target 'no-such-target'.*") as caught:
            values.append((x * 2 + 1).sum().item())
        assert "keeps running on the numpy interpreter" in str(caught[0].message)
        assert caught[0].filename == __file__  # named at the user's line
        with warnings.catch_warnings(record=True) as later:
            warnings.simplefilter("always")
            values.append((x * 2 + 1).sum().item())
        assert not later  # reported once
    assert values == [36.0] * 4
    with irc.set_eager_mode("compile"), pytest.raises(irc.InputError, match="unknown target"):
        (x * 2 + 1).sum().item()  # the compile tier raises the error itself


def test_a_compile_process_that_dies_is_reported(monkeypatch):
    def dying_process():
        log = tempfile.TemporaryFile()
        command = [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"]
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True), log

    monkeypatch.setattr(realize, "_start_compile_process", dying_process)
    # a worker thread (and job queue) of its own, which starts the dying process
    monkeypatch.setattr(realize, "_worker", None)
    monkeypatch.setattr(realize, "_jobs", queue.SimpleQueue())
    x = irc.tensor(np.ones(3, np.float32))
    with irc.set_eager_mode("auto"):
        for _ in range(2):
            (x + 1).numpy()
        assert realize.wait_compiled(60)
        with pytest.warns(irc.CompileWarning, match=r"compile process died \(exit code 3\): boom"):
            np.testing.assert_array_equal((x + 1).numpy(), [2, 2, 2])


@pytest.mark.parametrize("cores, started", [(2, True), (1, False)])
def test_a_new_graph_starts_the_compile_process_before_its_compile(monkeypatch, cores, started):
    """The first interpreted run of a new graph starts the compile process (which imports TVM meanwhile)
    where there is a core to spare; its compile is queued only at its second run."""
    calls = []

    def recording_process():
        calls.append(True)
        command = [sys.executable, "-c", "import sys; sys.stdin.read()"]  # waits for its stdin to close
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True), None

    monkeypatch.setattr(realize, "_start_compile_process", recording_process)
    monkeypatch.setattr(realize, "_worker", None)
    monkeypatch.setattr(realize, "_jobs", queue.SimpleQueue())
    monkeypatch.setattr(realize, "_cores", lambda: cores)
    monkeypatch.setattr(realize, "_cached", lambda program: None)  # a graph no earlier process compiled
    x = irc.tensor(np.full(5, 3.0, np.float32))
    with irc.set_eager_mode("auto"):
        np.testing.assert_array_equal((x * 7 - 1).numpy(), [20.0] * 5)
    (program,) = [p for p in realize._cache.values() if p.runs == 1 and "hl.mul" in realize._key_text(p)]
    assert program.done is None  # nothing queued yet
    if started:
        deadline = time.monotonic() + 30
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert calls == [True]  # (the thread stays blocked on its queue; the process exits with this one)
    else:
        assert realize._worker is None and calls == []


def test_a_compile_thread_serves_only_the_queue_it_was_started_for(monkeypatch):
    """A thread started on one queue (a test's, or before a fork) never takes jobs from the queue that
    replaces it: it would send them to its own, possibly dead or silent, process."""
    # a process start that takes a while (no process): the queue is replaced while it runs
    monkeypatch.setattr(realize, "_start_compile_process", lambda: time.sleep(0.3))
    monkeypatch.setattr(realize, "_worker", None)
    monkeypatch.setattr(realize, "_jobs", queue.SimpleQueue())
    realize._start_worker()
    later = queue.SimpleQueue()
    monkeypatch.setattr(realize, "_jobs", later)
    job = object()
    later.put(job)
    time.sleep(0.6)
    assert later.get_nowait() is job  # still there: the running thread waits on its own queue


def test_preload_imports_the_code_generator_without_torch():
    result = run_python(
        """
        import sys
        from irc.compiler.cache import preload
        preload("llvm")
        print("tvm" in sys.modules, "irc.targets.llvm.codegen" in sys.modules, "irc.conversions.bufferize" in sys.modules,
              "torch" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True True True False\n"


def test_set_eager_mode_call_and_context():
    assert irc.eager_mode() == "interpret"  # this folder's conftest
    with irc.set_eager_mode("compile"):
        assert irc.eager_mode() == "compile"
        irc.set_eager_mode("auto")
        assert irc.eager_mode() == "auto"
    assert irc.eager_mode() == "interpret"
    with pytest.raises(irc.InputError, match="'fast' is not an eager mode; the modes are auto, interpret, compile"):
        irc.set_eager_mode("fast")


def test_interpreter_outputs_are_arrays_of_their_own():
    x = irc.tensor(np.arange(6, dtype=np.float32))
    y, z = x.reshape(2, 3), x.reshape(2, 3).transpose(0, 1).transpose(0, 1)
    w = x.reshape(2, 3).transpose(0, 1)  # the reference's transpose is a view of its operand
    realize.realize_all([y._node, z._node, w._node])
    for t in (y, z, w):
        assert not np.shares_memory(t.numpy(), x.numpy()) and t.numpy().flags.writeable
        assert t.numpy().flags.c_contiguous
    assert not np.shares_memory(y.numpy(), z.numpy())
    np.testing.assert_array_equal(w.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3).T)


def test_the_interpreter_leaves_a_background_compile_a_core(monkeypatch):
    """While a background compile is queued or running, interpreted programs run numpy's BLAS on one
    thread fewer than there are cores (at least one); otherwise as numpy would."""
    limits = []

    def recording(count):
        limits.append(count)
        return blas_threads(count)

    monkeypatch.setattr(realize, "blas_threads", recording)
    a, b = np.ones((4, 5), np.float32), np.ones((5, 3), np.float32)
    with irc.set_eager_mode("interpret"):
        (irc.tensor(a) @ irc.tensor(b)).numpy()
        assert limits == []
        monkeypatch.setattr(realize, "_compiling", {object()})
        np.testing.assert_array_equal((irc.tensor(a) @ irc.tensor(b)).numpy(), a @ b)
    assert limits == [max(1, realize._cores() - 1)]


def test_interpret_mode_on_an_opencl_tensor_stays_on_the_device():
    from irc.errors import IRCError
    from irc.runtime.devices import data_device
    from irc.runtime.plan import DeviceArray

    try:
        data_device("opencl")
    except IRCError as e:
        pytest.skip(str(e))
    x = irc.tensor(np.arange(4, dtype=np.float32), device="opencl")
    y = (x * 3).relu()
    assert isinstance(y._value(), DeviceArray)
    np.testing.assert_array_equal(y.numpy(), [0, 3, 6, 9])
    assert all(p.compiled is None for p in realize._cache.values())


def run_python(code: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python process (with IRC_EAGER only as `env` sets it)."""
    full_env = {k: v for k, v in os.environ.items() if k != "IRC_EAGER"}
    full_env.update(env or {})
    code = textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=timeout)


REPEAT_A_GRAPH = """
    import sys
    import numpy as np
    import irc
    from irc.frontend import realize
    x = irc.tensor(np.ones((4, 4), np.float32))
    for _ in range(3):
        assert (x @ x).sum().item() == 64.0
    realize.wait_compiled(300)
    (program,) = realize._cache.values()
    print(program.runs, program.compiled is not None, "tvm" in sys.modules)
"""


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("interpret", "3 False False"),  # never compiled, TVM never imported
        ("compile", "3 True True"),  # compiled in this process from the first run
        (None, "3 True False"),  # auto: compiled by the compile process, loaded without TVM's compiler
    ],
)
def test_irc_eager_environment_variable(mode, expected):
    result = run_python(REPEAT_A_GRAPH, {"IRC_EAGER": mode} if mode else None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == expected


def test_a_bad_irc_eager_value_is_one_clear_error():
    result = run_python("import irc; irc.ones(2).sum().item()", {"IRC_EAGER": "fastest"})
    assert result.returncode != 0
    assert "IRC_EAGER: 'fastest' is not an eager mode; the modes are auto, interpret, compile" in result.stderr


def test_first_forward_and_backward_of_an_mlp_never_import_tvm():
    result = run_python(
        """
        import sys
        import numpy as np
        import irc, irc.nn as nn
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        x = irc.tensor(np.random.default_rng(0).standard_normal((8, 1, 28, 28)).astype(np.float32))
        model(x).numpy()
        nn.CrossEntropyLoss()(model(x), irc.tensor(np.arange(8) % 10)).backward()
        [p.grad.numpy() for p in model.parameters()]
        print("tvm" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False\n"


def test_exit_during_a_background_compile_is_clean():
    result = run_python(
        """
        import numpy as np
        import irc
        from irc.frontend import realize
        x = irc.tensor(np.ones((64, 64), np.float32))
        for _ in range(2):
            ((x @ x).relu() + 1).sum().item()
        (program,) = realize._cache.values()
        assert program.done is not None and not program.done.is_set()
        print("bye")
        """,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout == "bye\n", result.stderr


FIRST_RUN = """
    import sys
    import numpy as np
    import irc
    from irc.frontend import realize
    x = irc.tensor(np.ones((4, 4), np.float32))
    assert ((x @ x).relu() * 3).sum().item() == 192.0
    (program,) = realize._cache.values()
    print(program.compiled is not None, "tvm" in sys.modules)
"""


def test_a_graph_an_earlier_process_compiled_runs_compiled_from_its_first_call(tmp_path):
    cache_dir = {"IRC_CACHE_DIR": str(tmp_path)}
    assert run_python(FIRST_RUN, cache_dir).stdout == "False False\n"  # new: interpreted
    compiled = run_python(FIRST_RUN, {**cache_dir, "IRC_EAGER": "compile"})
    assert compiled.stdout == "True True\n", compiled.stderr
    # auto, in a new process: the disk cache holds the program, loaded without TVM's compiler
    assert run_python(FIRST_RUN, cache_dir).stdout == "True False\n"
