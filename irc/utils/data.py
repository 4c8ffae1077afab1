"""`irc.utils.data`: PyTorch's datasets, samplers and `DataLoader`, in plain Python, giving irc tensors.

    >>> from irc.utils.data import DataLoader, TensorDataset, random_split
    >>> train, val = random_split(TensorDataset(x, y), [0.8, 0.2])
    >>> for xb, yb in DataLoader(train, batch_size=64, shuffle=True):
    ...     loss = loss_fn(model(xb), yb)

Names, arguments, defaults, batch order and `default_collate`'s rules are torch's; randomness
comes from irc's generator (seeded by `irc.manual_seed`) or a `numpy.random.Generator` passed as
`generator=` (irc has no `torch.Generator`). Loading runs in the calling process: `num_workers`,
`pin_memory` and the other worker options are accepted and change nothing. Any object with
`__getitem__` and `__len__` is a map-style dataset (also a `torch.utils.data.Dataset` whose items
are numpy arrays, numbers or irc tensors); one with only `__iter__` is an iterable one.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from irc.frontend.tensor import Tensor, default_rng, randperm, stack, tensor


class Dataset:
    """A map-style dataset: `dataset[i]` for `i` in `range(len(dataset))` (subclasses define both)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"Subclasses of Dataset should implement __getitem__ ({type(self).__name__})")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define `__iter__`."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"Subclasses of IterableDataset should implement __iter__ ({type(self).__name__})")


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: `dataset[i] == (t[i] for t in tensors)`, as a tuple.

    >>> ds = TensorDataset(irc.randn(10, 3), irc.arange(10)); len(ds), ds[2][1].item()
    (10, 2)
    """

    def __init__(self, *tensors: Tensor):
        if not all(t.shape[:1] == tensors[0].shape[:1] for t in tensors) or any(t.dim() == 0 for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors
        self._arrays: dict[int, tuple[object, np.ndarray]] = {}

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _batch(self, indices: list[int]) -> list[Tensor]:
        """`default_collate([self[i] for i in indices])` in one step: each tensor's rows, as a list."""
        return [self._rows(i, t, indices) for i, t in enumerate(self.tensors)]

    def _rows(self, i: int, t: Tensor, indices: list[int]) -> Tensor:
        if t.requires_grad:  # keep the gradient's path to the dataset's tensor
            return t.index_select(0, tensor(indices, device=t.device))
        node, array = self._arrays.get(i, (None, None))
        if node is not t._node:  # first use, or the tensor changed in place since
            array = t.numpy()
            self._arrays[i] = (t._node, array)
        return tensor(array[indices], device=t.device)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def _batch(self, indices: list[int]):
        return self.dataset._batch([int(self.indices[i]) for i in indices])


class ConcatDataset(Dataset):
    """The samples of several map-style datasets, one after the other (`ds1 + ds2`)."""

    def __init__(self, datasets: Iterable):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        return self.datasets[which][index - (self.cumulative_sizes[which - 1] if which else 0)]


def _check_generator(generator):
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a numpy.random.Generator (irc has no torch.Generator), got {type(generator).__name__}"
        )
    return generator


def random_split(dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths, or fractions
    summing to 1 (the remainder goes round-robin to the first subsets, as in torch).

        >>> train, val = random_split(range(10), [0.8, 0.2]); len(train), len(val)
        (8, 2)
    """
    _check_generator(generator)
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, length in enumerate(counts):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=2
                )
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = randperm(n, generator=generator).tolist()
    return [Subset(dataset, order[end - k : end]) for end, k in zip(itertools.accumulate(lengths), lengths)]


class Sampler:
    """An iterable of dataset indices (subclasses define `__iter__`, usually `__len__`)."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random order of the indices on every pass (or `num_samples` draws with `replacement`)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        self.data_source, self.replacement, self._num_samples = data_source, replacement, num_samples
        self.generator = _check_generator(generator)
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        if self.replacement:
            rng = self.generator if self.generator is not None else default_rng()
            yield from rng.integers(0, n, self.num_samples).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from randperm(n, generator=self.generator).tolist()
        yield from randperm(n, generator=self.generator).tolist()[: self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a fresh random order on every pass."""

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices, self.generator = indices, _check_generator(generator)

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Lists of `batch_size` indices from `sampler` (the last one shorter unless `drop_last`)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        while batch := list(itertools.islice(it, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _is_array_like(x):
    """Whether `x` is a numpy array or another array-like (a torch tensor, through `__array__`)."""
    return isinstance(x, np.ndarray) or (hasattr(x, "__array__") and not isinstance(x, Tensor))


def default_collate(batch: list):
    """Merge a list of samples into a batch, by torch's rules: tensors and numpy arrays are stacked
    (into an irc tensor), numbers become a tensor (float64 for floats, int64 for ints), str stays a
    list, dicts and sequences are collated entry by entry (a tuple sample gives a list)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.generic) or _is_array_like(elem):
        arrays = [np.asarray(b) for b in batch]
        if arrays[0].dtype.kind in "OSUV":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                            f"found {arrays[0].dtype}")  # fmt: skip
        return tensor(np.stack(arrays))
    if isinstance(elem, float):
        return tensor(batch, dtype="float64")
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        merged = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(merged)
        except TypeError:
            return merged
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {type(elem)}"
    )


def default_convert(data):
    """A sample without batching (`batch_size=None`): numpy arrays become irc tensors, tuples lists
    (as in torch), the rest stays."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.generic) or _is_array_like(data):
        array = np.asarray(data)
        return data if array.dtype.kind in "OSUV" else tensor(array)
    if isinstance(data, Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):  # a tuple too becomes a list, as in torch
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Batches of a dataset, as `torch.utils.data.DataLoader` (single process).

        >>> loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, drop_last=True)
        >>> len(loader), [xb.shape for xb, _ in loader][0]
        (2, (4, 3))

    A `TensorDataset` (or a `Subset` of one) with the default collate is batched in one step
    (each tensor's rows at the batch's indices), not sample by sample.
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        _check_generator(generator)
        self.dataset, self.num_workers, self.pin_memory, self.timeout = dataset, num_workers, pin_memory, timeout
        self.generator, self.drop_last = generator, drop_last
        self._iterable = isinstance(dataset, IterableDataset) or not hasattr(dataset, "__getitem__")
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler/batch_sampler option")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and self._iterable:
            BatchSampler([], batch_size, drop_last)  # the same checks of batch_size and drop_last
        self.batch_size, self.sampler, self.batch_sampler = batch_size, sampler, batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __iter__(self) -> Iterator:
        if self._iterable:
            it = iter(self.dataset)
            if not self._auto_collation:
                yield from map(self.collate_fn, it)
                return
            for batch in BatchSampler(it, self.batch_size, self.drop_last):
                yield self.collate_fn(batch)
            return
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        fast = self.collate_fn is default_collate and _batches_whole(self.dataset)
        for indices in self.batch_sampler:
            indices = [int(i) for i in indices]
            yield self.dataset._batch(indices) if fast else self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler if self._auto_collation else self.sampler)


def _batches_whole(dataset) -> bool:
    """Whether `dataset._batch` gives default_collate's batch of its samples in one step."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return type(dataset) is TensorDataset
