"""A caching allocator for device memory, as PyTorch's: a call allocates nothing in steady state.

Device memory is slow to get (`cuMemAlloc` of 256 MB costs as much as the kernels that use
it) and a jitted step asks for the same sizes on every call. A `MemoryPool` hands out
`Block`s; a block whose last reference goes (an output the user dropped, a temporary of a
finished call) returns to the pool instead of the driver, and the next request of its size
class gets it back. Blocks never alias while referenced: a block is handed out again only
after every `DeviceArray` (and view) holding it is gone.

Reuse is safe without synchronizing because every runtime in irc runs its kernels and copies
in order on one queue (CUDA's default stream, one OpenCL in-order queue): work that reads a
block's old contents is queued before any work of its next owner.

    pool = MemoryPool(allocate=lambda n: driver_alloc(n), release=driver_free)
    block = pool.alloc(1000)        # a Block; block.handle is the driver's buffer
    del block                       # back to the pool, not to the driver
    pool.stats()                    # {'device_allocs': 1, 'reuses': 0, 'in_use_bytes': 0, 'cached_bytes': 1024, ...}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

#: small requests round up to a multiple of this; larger ones to a multiple of LARGE_ROUND
SMALL_ROUND = 512
SMALL_LIMIT = 1 << 20
LARGE_ROUND = 2 << 20


def size_class(nbytes: int) -> int:
    """The bytes a request of `nbytes` really takes (at least one rounding unit; zero-size arrays too)."""
    unit = SMALL_ROUND if nbytes <= SMALL_LIMIT else LARGE_ROUND
    return max(unit, -(-nbytes // unit) * unit)


class Block:
    """Device memory from a pool: `handle` is what the driver returned. Returns to the pool when dropped."""

    __slots__ = ("pool", "size", "handle")

    def __init__(self, pool: MemoryPool, size: int, handle: Any):
        self.pool = pool
        self.size = size
        self.handle = handle

    def __del__(self):
        try:
            self.pool._give_back(self.size, self.handle)
        except Exception:  # noqa: BLE001, S110 - at interpreter exit the pool (or the driver) may be gone already
            pass

    def __repr__(self) -> str:
        return f"Block({self.size} bytes)"


class MemoryPool:
    """Free blocks by size class over a driver's `allocate(nbytes) -> handle` and `release(handle)`."""

    def __init__(self, allocate: Callable[[int], Any], release: Callable[[Any], None]):
        self._allocate = allocate
        self._release = release
        self._free: dict[int, list[Any]] = defaultdict(list)
        self.device_allocs = 0
        self.reuses = 0
        self.in_use_bytes = 0
        self.cached_bytes = 0

    def alloc(self, nbytes: int) -> Block:
        """A block of at least `nbytes`: a cached one of its size class, else new device memory.

        When the device is out of memory, the cached blocks are released and the request tried once more.
        """
        size = size_class(nbytes)
        free = self._free.get(size)
        if free:
            handle = free.pop()
            self.cached_bytes -= size
            self.reuses += 1
        else:
            try:
                handle = self._allocate(size)
            except Exception:  # out of memory (the driver's error): what the pool holds may be enough
                if not self.cached_bytes:
                    raise
                self.empty_cache()
                handle = self._allocate(size)
            self.device_allocs += 1
        self.in_use_bytes += size
        return Block(self, size, handle)

    def _give_back(self, size: int, handle: Any) -> None:
        self.in_use_bytes -= size
        self.cached_bytes += size
        self._free[size].append(handle)

    def empty_cache(self) -> None:
        """Release every cached block to the driver (blocks in use stay)."""
        free, self._free = self._free, defaultdict(list)
        for handles in free.values():
            for handle in handles:
                self._release(handle)
        self.cached_bytes = 0

    def stats(self) -> dict[str, int]:
        return {
            "device_allocs": self.device_allocs,
            "reuses": self.reuses,
            "in_use_bytes": self.in_use_bytes,
            "cached_bytes": self.cached_bytes,
        }


class View:
    """Part of a block (a plan's view buffer): `handle` is the driver's handle for it; keeps the block alive."""

    __slots__ = ("handle", "base")

    def __init__(self, handle: Any, base: Block | View):
        self.handle = handle
        self.base = base
