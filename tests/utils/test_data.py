"""`irc.utils.data` against `torch.utils.data` (torch 2.13): the same batches, lengths and errors."""

import collections

import numpy as np
import pytest

import irc
import irc.nn as nn
from irc.utils import data

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _values(batch):
    """A batch (irc or torch) as nested Python values, with the dtype of every tensor."""
    if isinstance(batch, (irc.Tensor, torch.Tensor)):
        return (str(batch.dtype).replace("torch.", ""), batch.tolist())
    if isinstance(batch, dict):
        return {k: _values(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch).__name__, [_values(b) for b in batch]
    return batch


X = np.arange(30, dtype=np.float32).reshape(10, 3)
Y = np.arange(10) % 3


class Records:
    """A dataset of dicts, tuples, numbers, str and numpy arrays (no tensors): both libraries load it."""

    Point = collections.namedtuple("Point", "x y")

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {
            "image": np.full((2, 2), i, np.float32),
            "label": i % 2,
            "weight": 0.5 * i,
            "name": f"s{i}",
            "pair": (np.int64(i), [i, -i]),
            "point": self.Point(i, np.float64(i)),
            "flag": i > 3,
        }


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (10, False), (4, True)])
def test_tensor_dataset_batches_match_torch(batch_size, drop_last):
    mine = data.DataLoader(data.TensorDataset(irc.tensor(X), irc.tensor(Y)), batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(
        tdata.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=batch_size, drop_last=drop_last
    )
    assert len(mine) == len(theirs)
    assert [_values(b) for b in mine] == [_values(b) for b in theirs]


def test_collate_of_dicts_tuples_numbers_and_strings_matches_torch():
    mine = [_values(b) for b in data.DataLoader(Records(), batch_size=3)]
    theirs = [_values(b) for b in tdata.DataLoader(Records(), batch_size=3)]
    assert mine == theirs and len(mine) == 3
    # no batching: numpy arrays become tensors, the rest stays
    mine = [_values(b) for b in data.DataLoader(Records(), batch_size=None)]
    assert mine == [_values(b) for b in tdata.DataLoader(Records(), batch_size=None)]


def test_a_torch_dataset_subclass_of_numpy_values_loads():
    class Squares(tdata.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], np.float32), i

    mine = [_values(b) for b in data.DataLoader(Squares(), batch_size=2)]
    assert mine == [_values(b) for b in tdata.DataLoader(Squares(), batch_size=2)]

    class TorchTensors(tdata.Dataset):  # torch tensors convert through __array__
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return torch.full((2,), float(i), dtype=torch.float64)

    (batch,) = data.DataLoader(TorchTensors(), batch_size=3)
    assert isinstance(batch, irc.Tensor) and _values(batch) == _values(next(iter(tdata.DataLoader(TorchTensors(), 3))))


def test_shuffle_covers_every_index_once_per_epoch_and_follows_the_seed():
    ds = data.TensorDataset(irc.arange(23))
    loader = data.DataLoader(ds, batch_size=5, shuffle=True)
    irc.manual_seed(7)
    epochs = [[i for (b,) in loader for i in b.tolist()] for _ in range(2)]
    assert [sorted(e) for e in epochs] == [list(range(23))] * 2
    assert epochs[0] != epochs[1] and epochs[0] != list(range(23))  # a fresh order each epoch
    irc.manual_seed(7)
    assert [i for (b,) in loader for i in b.tolist()] == epochs[0]
    # a numpy generator instead of irc's
    first = [b.tolist() for (b,) in data.DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(3))]
    again = [b.tolist() for (b,) in data.DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(3))]
    assert first == again and [len(b) for b in first] == [5, 5, 5, 5, 3]
    dropped = data.DataLoader(ds, batch_size=5, shuffle=True, drop_last=True)
    assert len(dropped) == 4 and [len(b) for (b,) in dropped] == [5] * 4


def test_random_split_and_subset():
    ds = data.TensorDataset(irc.arange(10) * 10)
    irc.manual_seed(0)
    parts = data.random_split(ds, [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    seen = sorted(int(p[i][0].item()) for p in parts for i in range(len(p)))
    assert seen == list(range(0, 100, 10))
    # fractions whose floors leave a remainder: round-robin, as in torch
    sizes = [len(p) for p in data.random_split(range(10), [0.33, 0.33, 0.34])]
    assert sizes == [len(p) for p in tdata.random_split(range(10), [0.33, 0.33, 0.34])] == [4, 3, 3]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        data.random_split(ds, [3, 3])
    subset = data.Subset(ds, [7, 2, 2])
    batches = [b.tolist() for (b,) in data.DataLoader(subset, batch_size=2)]
    assert batches == [[70, 20], [20]] and len(subset) == 3
    assert [x.tolist() for x in (ds + subset)[11]] == [20] and len(ds + subset) == 13


def test_samplers_and_iterable_datasets_match_torch():
    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    class TorchStream(tdata.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    for kwargs in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None}):
        assert [_values(b) for b in data.DataLoader(Stream(), **kwargs)] == [
            _values(b) for b in tdata.DataLoader(TorchStream(), **kwargs)
        ]
    batches = data.DataLoader(range(10), batch_sampler=[[0, 1], [5, 9, 2]])
    assert [b.tolist() for b in batches] == [[0, 1], [5, 9, 2]] and len(batches) == 2
    picked = data.DataLoader(range(10), sampler=data.SubsetRandomSampler([1, 4, 6]), batch_size=2)
    assert sorted(i for b in picked for i in b.tolist()) == [1, 4, 6]
    drawn = list(data.RandomSampler(range(3), replacement=True, num_samples=20))
    assert len(drawn) == 20 and set(drawn) <= {0, 1, 2}
    assert len(list(data.RandomSampler(range(3), num_samples=7))) == 7


def test_bad_arguments_are_torchs_errors():
    ds = data.TensorDataset(irc.ones(4))
    for kwargs, message in [
        ({"batch_size": 0}, "batch_size should be a positive integer value, but got batch_size=0"),
        ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ]:
        with pytest.raises(ValueError, match=message):
            data.DataLoader(ds, **kwargs)
        with pytest.raises(ValueError, match=message):
            tdata.DataLoader(tdata.TensorDataset(torch.ones(4)), **kwargs)
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        data.TensorDataset(irc.ones(4), irc.ones(3))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        data.DataLoader(ds, shuffle=True, generator=torch.Generator())
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        list(data.DataLoader([object(), object()], batch_size=2))
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        list(data.DataLoader([[1, 2], [3]], batch_size=2))


def test_a_training_loop_over_a_dataloader_learns():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    y = (x @ np.array([[2.0], [-1.0]], np.float32)).astype(np.float32)
    irc.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = irc.optim.SGD(model.parameters(), lr=0.1)
    loader = data.DataLoader(data.TensorDataset(irc.tensor(x), irc.tensor(y)), batch_size=16, shuffle=True)
    for _ in range(15):
        for xb, yb in loader:
            opt.zero_grad()
            loss = ((model(xb) - yb) ** 2).mean()
            loss.backward()
            opt.step()
    np.testing.assert_allclose(model.weight.numpy(), [[2.0, -1.0]], atol=1e-2)


def test_tensor_dataset_rows_follow_in_place_updates_and_gradients():
    t = irc.zeros(4, 2)
    loader = data.DataLoader(data.TensorDataset(t), batch_size=4)
    assert next(iter(loader))[0].numpy().sum() == 0
    t[1] = 5.0  # the cached rows are refreshed
    assert next(iter(loader))[0].numpy().sum() == 10
    w = irc.ones(3, requires_grad=True)
    (batch,) = next(iter(data.DataLoader(data.TensorDataset(w * 2), batch_size=2)))
    batch.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 0.0]
