"""irc.runtime.pool: the caching device allocator (a mock driver here; PoCL in tests/targets/test_opencl.py)."""

import gc

import numpy as np
import pytest

from irc.runtime.plan import BufferSpec, DeviceArray, ExecutionPlan, KernelLaunch, PlanRunner
from irc.runtime.pool import LARGE_ROUND, SMALL_ROUND, MemoryPool, View, size_class


class FakeDriver:
    """Device memory as numpy byte arrays, with a count of driver calls and an optional memory limit."""

    def __init__(self, limit: int | None = None):
        self.live: dict[int, np.ndarray] = {}
        self.allocs = self.frees = 0
        self.limit = limit
        self._next = 1

    def allocate(self, nbytes: int) -> int:
        if self.limit is not None and sum(a.nbytes for a in self.live.values()) + nbytes > self.limit:
            raise MemoryError("out of device memory")
        self.allocs += 1
        handle, self._next = self._next, self._next + 1
        self.live[handle] = np.zeros(nbytes, np.uint8)
        return handle

    def release(self, handle: int) -> None:
        self.frees += 1
        del self.live[handle]


class FakeDevice:
    """A plan Device over FakeDriver whose one kernel, `add`, computes out = a + b (float32)."""

    def __init__(self, pool: MemoryPool, driver: FakeDriver):
        self.pool, self.driver = pool, driver

    def _bytes(self, buffer) -> np.ndarray:
        return self.driver.live[buffer.handle]

    def alloc(self, nbytes):
        return self.pool.alloc(nbytes)

    def view(self, base, byte_offset, nbytes):
        raise NotImplementedError

    def upload(self, buffer, array):
        self._bytes(buffer)[: array.nbytes] = np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8)

    def download(self, buffer, array):
        array.reshape(-1).view(np.uint8)[:] = self._bytes(buffer)[: array.nbytes]

    def launch(self, launch, args):
        out, a, b = (self._bytes(x)[:16].view(np.float32) for x in args)
        out[:] = a + b


def test_size_classes():
    assert size_class(0) == size_class(1) == SMALL_ROUND
    assert size_class(SMALL_ROUND + 1) == 2 * SMALL_ROUND
    assert size_class((1 << 20) + 1) == LARGE_ROUND and size_class(LARGE_ROUND + 1) == 2 * LARGE_ROUND


def test_a_dropped_block_is_reused_not_freed():
    driver = FakeDriver()
    pool = MemoryPool(driver.allocate, driver.release)
    a = pool.alloc(1000)
    handle = a.handle
    del a
    assert driver.frees == 0 and pool.stats()["cached_bytes"] == 1024
    b = pool.alloc(600)  # same size class
    assert b.handle == handle and driver.allocs == 1 and pool.reuses == 1
    c = pool.alloc(600)  # b is still held: a new block, never an alias
    assert c.handle != b.handle and driver.allocs == 2
    assert pool.stats() == {"device_allocs": 2, "reuses": 1, "in_use_bytes": 2048, "cached_bytes": 0}


def test_a_view_keeps_its_block():
    driver = FakeDriver()
    pool = MemoryPool(driver.allocate, driver.release)
    block = pool.alloc(4096)
    view = View(("sub", block.handle), block)
    del block
    gc.collect()
    assert pool.stats()["cached_bytes"] == 0  # the view still holds it
    del view
    assert pool.stats()["cached_bytes"] == 4096


def test_out_of_memory_releases_the_cache_and_retries():
    driver = FakeDriver(limit=4096)
    pool = MemoryPool(driver.allocate, driver.release)
    a, b = pool.alloc(2048), pool.alloc(1024)
    del a, b  # 3 KiB cached
    c = pool.alloc(3000)  # a new size class that fits only once the cache is released
    assert driver.frees == 2 and c.size == 3072 and pool.stats()["cached_bytes"] == 0
    with pytest.raises(MemoryError):
        pool.alloc(4096)  # nothing cached to release: the driver's error


def test_empty_cache_keeps_blocks_in_use():
    driver = FakeDriver()
    pool = MemoryPool(driver.allocate, driver.release)
    kept, dropped = pool.alloc(10), pool.alloc(10)
    del dropped
    pool.empty_cache()
    assert driver.frees == 1 and list(driver.live) == [kept.handle]


def _add_plan() -> ExecutionPlan:
    spec = lambda name, kind: BufferSpec(name, (4,), "float32", kind)  # noqa: E731
    buffers = [spec("a", "input"), spec("b", "input"), spec("out", "output"), spec("tmp", "temp")]
    return ExecutionPlan(
        "add", ["a", "b"], ["out"], buffers, [KernelLaunch("add", ("out", "a", "b"), (1, 1, 1), (4, 1, 1))]
    )


def test_a_plan_in_steady_state_allocates_nothing_and_outputs_never_alias():
    driver = FakeDriver()
    device = FakeDevice(MemoryPool(driver.allocate, driver.release), driver)
    runner = PlanRunner(_add_plan(), device)
    x = np.arange(4, dtype=np.float32)
    first = runner.run_numpy(x, x)[0]
    warm = driver.allocs
    kept = []
    for i in range(5):  # outputs kept by the caller: each call's output is its own memory
        (out,) = runner.run(DeviceArray.from_numpy(device, x), DeviceArray.from_numpy(device, x + i))
        kept.append(out)
    assert len({o.buffer.handle for o in kept}) == 5
    for i, out in enumerate(kept):  # later calls did not overwrite earlier outputs
        np.testing.assert_array_equal(out.to_numpy(), 2 * x + i)
    kept.clear()
    before = driver.allocs
    for _ in range(10):  # outputs dropped each call: the pool hands the same memory back
        np.testing.assert_array_equal(runner.run_numpy(x, x)[0], first)
    assert driver.allocs == before and driver.frees == 0
    assert warm <= 4  # the temporary, two inputs and an output
