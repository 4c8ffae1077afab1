"""irc.amp.GradScaler against torch.amp.GradScaler (device "cpu", where torch runs it): scales, skipped
steps on inf/nan gradients, back-off and growth, unscale_ before clipping, state dicts; a "cuda" scaler
without CUDA is disabled with torch's warning. Also the distributed names scripts import."""

import warnings

import numpy as np
import pytest

import irc
import irc.nn as nn
import irc.optim as optim

torch = pytest.importorskip("torch")


def _train(m, steps, bad_steps, clip=False, **scaler_kwargs):
    """SGD on (w * x).sum()**2 with the scaler; on `bad_steps` x holds an inf (every gradient inf or nan)."""
    w = m.nn.Parameter(m.tensor(np.array([0.5, -1.0, 2.0], np.float32)))
    opt = m.optim.SGD([w], lr=0.01)
    scaler = m.amp.GradScaler("cpu", **scaler_kwargs)
    record = []
    for i in range(steps):
        x = np.array([1.0, 2.0, np.inf if i in bad_steps else 3.0], np.float32)
        opt.zero_grad()
        loss = ((w * m.tensor(x)).sum()) ** 2
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(opt)
            m.nn.utils.clip_grad_norm_([w], 1.0)
        scaler.step(opt)
        scaler.update()
        record.append((scaler.get_scale(), w.detach().numpy().copy()))
    return record, scaler.state_dict()


@pytest.mark.parametrize("clip", [False, True])
def test_grad_scaler_steps_skips_and_rescales_like_torch(clip):
    kwargs = dict(init_scale=1024.0, growth_interval=2, growth_factor=4.0, backoff_factor=0.25)
    ours, our_state = _train(irc, 7, {2, 3}, clip, **kwargs)
    theirs, their_state = _train(torch, 7, {2, 3}, clip, **kwargs)
    for (scale, w), (want_scale, want_w) in zip(ours, theirs):
        assert scale == want_scale
        np.testing.assert_allclose(w, want_w, rtol=1e-6)
    assert our_state == their_state
    assert [s for s, _ in ours] == [1024.0, 4096.0, 1024.0, 256.0, 256.0, 1024.0, 1024.0]  # grow, back off twice, grow
    np.testing.assert_array_equal(ours[2][1], ours[1][1])  # the steps with an inf were skipped


def test_a_disabled_scaler_passes_through_and_cuda_without_a_gpu_disables_itself():
    w = nn.Parameter(irc.ones(2))
    opt = optim.SGD([w], lr=0.5)
    off = irc.amp.GradScaler(enabled=False)
    loss = (w * 3).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    loss.backward()
    off.step(opt)
    off.update()
    assert w.tolist() == [-0.5, -0.5]
    if not irc.cuda.is_available():
        for m in (torch, irc):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert not m.amp.GradScaler("cuda").is_enabled()
            assert any(
                "GradScaler is enabled, but CUDA is not available.  Disabling." in str(c.message) for c in caught
            )
        assert not irc.cuda.amp.GradScaler().is_enabled()  # the older spelling nanoGPT uses


def test_grad_scaler_misuse_is_torchs_error():
    w = nn.Parameter(irc.ones(2))
    opt = optim.SGD([w], lr=0.5)
    scaler = irc.amp.GradScaler("cpu")
    scaler.scale((w * 2).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called on this optimizer"):
        scaler.unscale_(opt)
    traced = irc.amp.GradScaler("cpu")

    def jitted_step(x):
        opt.zero_grad()
        traced.scale((w * x).sum()).backward()
        traced.step(opt)

    with pytest.raises(irc.FrontendError, match="GradScaler decides on a value .* which irc.jit cannot trace"):
        irc.jit(jitted_step)(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="The growth factor must be > 1.0"):
        irc.amp.GradScaler("cpu", growth_factor=1.0)


def test_distributed_names_import_and_refuse_to_start():
    from irc.distributed import destroy_process_group, init_process_group
    from irc.nn.parallel import DistributedDataParallel

    assert not irc.distributed.is_available() and not irc.distributed.is_initialized()
    with pytest.raises(irc.FrontendError, match="init_process_group is not supported: irc runs one process"):
        init_process_group(backend="gloo")
    with pytest.raises(irc.FrontendError, match="destroy_process_group is not supported"):
        destroy_process_group()
    with pytest.raises(irc.FrontendError, match="DistributedDataParallel is not supported"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(irc.FrontendError, match="DataParallel is not supported"):
        nn.DataParallel(nn.Linear(2, 2))
