import math

import pytest
import torch

from ssmkit import S4D, Backbone, BackboneConfig, Bidirectional, Mamba, Mamba2, MultiOrder, registry


def _step_all(module, x):
    state = module.allocate_state(x.shape[0])
    return torch.stack([module.step(x[:, t], state) for t in range(x.shape[1])], 1)


@pytest.mark.parametrize("mixer", [
    lambda: Mamba(16, d_state=8),
    lambda: Mamba2(16, d_state=8, headdim=8, chunk_size=8),
    lambda: Mamba2(16, d_state=4, headdim=4, ngroups=2, chunk_size=16),
    lambda: S4D(16, d_state=8),
])
def test_recurrent_step_matches_parallel_forward(mixer):
    torch.manual_seed(0)
    m = mixer().eval()
    x = torch.randn(2, 21, 16)
    with torch.no_grad():
        torch.testing.assert_close(_step_all(m, x), m(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["mamba", "mamba2", "s4d"])
def test_backbone_step_matches_forward_and_is_causal(name):
    torch.manual_seed(1)
    opts = {"headdim": 8, "d_state": 8, "chunk_size": 4} if name == "mamba2" else {"d_state": 8}
    bb = Backbone(BackboneConfig(d_model=16, n_layers=2, mixer=name, mixer_options=opts, d_intermediate=24)).eval()
    x = torch.randn(2, 13, 16)
    with torch.no_grad():
        full = bb(x)
        torch.testing.assert_close(_step_all(bb, x), full, rtol=1e-4, atol=1e-4)
        x2 = x.clone()
        x2[:, 8:] = torch.randn(2, 5, 16)  # changing the future leaves the past alone
        torch.testing.assert_close(bb(x2)[:, :8], full[:, :8])


def test_backbone_trains_gradients_flow():
    bb = Backbone(d_model=16, n_layers=2)
    bb(torch.randn(2, 10, 16)).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in bb.parameters())


class Cumsum(torch.nn.Module):
    """A causal module with a known answer."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(scale))

    def forward(self, x):
        return self.scale * x.cumsum(1)


def test_bidirectional_merges_known_answer():
    x = torch.randn(2, 7, 3)
    fwd, bwd = Cumsum(1.0), Cumsum(2.0)
    suffix = x.flip(1).cumsum(1).flip(1)
    torch.testing.assert_close(Bidirectional(fwd, bwd, "sum")(x), x.cumsum(1) + 2 * suffix)
    torch.testing.assert_close(Bidirectional(fwd, None, "mean")(x), 0.5 * (x.cumsum(1) + suffix))
    assert Bidirectional(fwd, bwd, "concat")(x).shape == (2, 7, 6)
    assert Bidirectional(fwd, bwd, "concat", d_model=3)(x).shape == (2, 7, 3)


def test_tied_bidirectional_shares_weights_and_is_reversal_equivariant():
    torch.manual_seed(0)
    bi = Bidirectional(Mamba(8, d_state=4), None, "sum").eval()
    single = sum(p.numel() for p in Mamba(8, d_state=4).parameters())
    assert bi.tied and sum(p.numel() for p in bi.parameters()) == single
    x = torch.randn(2, 9, 8)
    with torch.no_grad():
        torch.testing.assert_close(bi(x.flip(1)), bi(x).flip(1), rtol=1e-5, atol=1e-5)


def test_bidirectional_backbone_sees_both_directions():
    torch.manual_seed(0)
    bb = Backbone(d_model=8, n_layers=1, bidirectional=True, merge="concat").eval()
    assert not bb.causal
    x = torch.randn(1, 10, 8)
    x2 = x.clone()
    x2[:, -1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(bb(x)[:, 0], bb(x2)[:, 0])


def test_multi_order_puts_outputs_back_in_place():
    x = torch.randn(2, 16, 3)
    grid = (4, 4)
    # a position-wise module gives the same result whatever the order
    pointwise = torch.nn.Linear(3, 3)
    mo = MultiOrder(pointwise, ["row", "column", "hilbert", "snake"], merge="mean")
    torch.testing.assert_close(mo(x, grid=grid), pointwise(x), rtol=1e-5, atol=1e-6)
    # a causal cumsum read column-wise: known answer
    col = MultiOrder(Cumsum(), ["column"])(x, grid=grid)
    expected = x.reshape(2, 4, 4, 3).transpose(1, 2).reshape(2, 16, 3).cumsum(1)
    expected = expected.reshape(2, 4, 4, 3).transpose(1, 2).reshape(2, 16, 3)
    torch.testing.assert_close(col, expected)


def test_multi_order_per_sample_point_orders():
    coords = torch.rand(3, 50, 3)
    x = torch.randn(3, 50, 4)
    out = MultiOrder(Cumsum(), ["hilbert3d", "zorder3d"], merge="concat")(x, coords=coords)
    assert out.shape == (3, 50, 8)
    # read along each sample's own curve, the cumsum is a known answer
    for k, name in enumerate(["hilbert3d", "zorder3d"]):
        perm = registry.get("scan_orders", name).permutation(coords=coords)
        for b in range(3):
            expected = torch.empty(50, 4)
            expected[perm[b]] = x[b, perm[b]].cumsum(0)
            torch.testing.assert_close(out[b, :, 4 * k:4 * k + 4], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["mamba", "mamba2", "s4d"])
def test_carried_state_across_chunks_equals_one_forward(name):
    """Chunk after chunk with a carried state gives the whole sequence's output (float64), and the
    state left behind continues token by token through ``step``."""
    torch.manual_seed(0)
    opts = {"mamba2": {"d_state": 8, "headdim": 8, "chunk_size": 4}}.get(name, {"d_state": 8})
    bb = Backbone(BackboneConfig(d_model=16, n_layers=2, mixer=name, mixer_options=opts)).double()
    x = torch.randn(2, 23, 16, dtype=torch.float64)
    whole = bb(x)
    state = bb.allocate_state(2, dtype=torch.float64)
    parts = [bb(x[:, a:b], state) for a, b in [(0, 7), (7, 8), (8, 20)]]
    tol = 1e-5 if name == "s4d" else 1e-9  # S4D discretises its parameters in float32
    torch.testing.assert_close(torch.cat(parts, 1), whole[:, :20], rtol=tol, atol=tol)
    with torch.no_grad():
        tail = torch.stack([bb.step(x[:, t], state) for t in range(20, 23)], 1)
    torch.testing.assert_close(tail, whole[:, 20:], rtol=tol, atol=tol)


def test_carried_state_truncates_backprop_and_refuses_bidirectional():
    torch.manual_seed(0)
    bb = Backbone(BackboneConfig(d_model=8, n_layers=1, mixer_options={"d_state": 4}))
    x = torch.randn(1, 12, 8, requires_grad=True)
    state = bb.allocate_state(1)
    bb(x[:, :6], state)
    Backbone.detach_state(state)
    bb(x[:, 6:], state).sum().backward()
    assert x.grad[:, :6].abs().max() == 0 and x.grad[:, 6:].abs().max() > 0
    bi = Backbone(BackboneConfig(d_model=8, n_layers=1, bidirectional=True))
    with pytest.raises(RuntimeError, match="causal"):
        bi(x, [{}])


@pytest.mark.parametrize("name,bidirectional", [("mamba", False), ("mamba2", False), ("mamba", True),
                                                ("mamba2", True)])
def test_packed_sequences_equal_separate_forwards(name, bidirectional):
    """Three sequences packed in one row (seq_idx) give each sequence's own forward, float64: nothing
    leaks across a boundary, forwards or (bidirectional) backwards."""
    from ssmkit.kernels import pack

    torch.manual_seed(0)
    opts = {"mamba2": {"d_state": 8, "headdim": 8, "chunk_size": 4}}.get(name, {"d_state": 8})
    bb = Backbone(BackboneConfig(d_model=16, n_layers=2, mixer=name, mixer_options=opts,
                                 bidirectional=bidirectional, d_intermediate=8)).double()
    seqs = [torch.randn(n, 16, dtype=torch.float64) for n in (5, 1, 9)]
    packed, seq_idx = pack(seqs, dim=0)  # (1, 15, 16), (1, 15)
    out = bb(packed, seq_idx=seq_idx)[0]
    expected = torch.cat([bb(s.unsqueeze(0))[0] for s in seqs])
    torch.testing.assert_close(out, expected, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="seq_idx"):
        Backbone(BackboneConfig(d_model=16, n_layers=1, mixer="s4d"))(packed.float(), seq_idx=seq_idx)


def test_reverse_within_segments_is_an_involution_with_known_answer():
    from ssmkit.kernels.packing import reverse_within_segments

    seq_idx = torch.tensor([[0, 0, 0, 1, 2, 2], [5, 5, 5, 5, 5, 5]])
    index = reverse_within_segments(seq_idx)
    assert index.tolist() == [[2, 1, 0, 3, 5, 4], [5, 4, 3, 2, 1, 0]]
    assert torch.equal(index.gather(1, index), torch.arange(6).expand(2, 6))


def test_s4d_short_chunks_run_as_recurrence_equal_to_the_fft_path():
    """Chunks of up to ``recurrent_below`` tokens with a carried state take the matrix recurrence: outputs, final
    state and gradients equal the FFT path's; without autograd its cached matrices follow parameter changes."""
    torch.manual_seed(0)
    m = S4D(16, d_state=8).eval()
    x = torch.randn(3, 11, 16)

    def chunked(sizes, fft: bool):
        m.recurrent_below = 0 if fft else S4D.recurrent_below
        state, outs, start = m.allocate_state(3), [], 0
        for n in sizes:
            outs.append(m(x[:, start:start + n], state))
            start += n
        del m.recurrent_below
        return torch.cat(outs, 1), state["ssm"]

    for sizes in ([1] * 11, [2] * 5 + [1], [3, 5, 3], [8, 3], [11]):
        with torch.no_grad():
            (y, h), (y_ref, h_ref) = chunked(sizes, False), chunked(sizes, True)
            torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(h, h_ref, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(y, m(x), rtol=1e-5, atol=1e-5)
    grads = []
    for fft in (False, True):
        m.zero_grad()
        chunked([2, 3, 6], fft)[0].square().sum().backward()
        grads.append([p.grad.clone() for p in (m.log_dt, m.log_A_real, m.C, m.D)])
    for g, g_ref in zip(*grads):
        torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        before = chunked([2] * 5 + [1], False)[0]
        m.log_dt.add_(0.5)  # an optimizer step changes parameters in place
        after = chunked([2] * 5 + [1], False)[0]
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, m(x).detach(), rtol=1e-5, atol=1e-5)  # m(x) with autograd: no cache


def test_s4d_stream_cache_is_never_stale_nor_used_where_it_must_not_be():
    """Parameters written without a version bump (a fused optimizer, ``.data``) are read afresh after ``train()``;
    a module built under inference_mode runs; under bf16 autocast the short-chunk path keeps a float32 state equal
    to the one without autocast; pickling leaves the cache behind."""
    import copy
    import pickle

    torch.manual_seed(0)
    m = S4D(8, d_state=4).eval()
    x = torch.randn(1, 3, 8)

    def stream(module, **autocast):
        state = module.allocate_state(1)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(autocast)):
            for t in range(3):
                module(x[:, t:t + 1], state)
        return state["ssm"]

    before = stream(m)
    m.log_dt.data.add_(0.7)  # no version bump
    m.train()
    m.eval()
    after = stream(m)
    fresh = stream(copy.deepcopy(m))
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, fresh)
    with_autocast = stream(m, autocast=True)
    assert with_autocast.dtype == torch.cfloat
    torch.testing.assert_close(with_autocast, after, rtol=1e-5, atol=1e-5)  # the recurrence stays float32
    assert "_cache" not in pickle.loads(pickle.dumps(m)).__dict__
    with torch.inference_mode():
        built = S4D(8, d_state=4).eval()
        assert built(x, built.allocate_state(1)).shape == x.shape


def test_s4d_rescaled_step_reads_a_held_input_at_half_the_rate_exactly():
    """ZOH discretisation: an input held for two steps of dt is one step of 2 dt, so the layer with its step
    doubled on the coarse sequence gives the fine layer's output at the end of every hold."""
    torch.manual_seed(0)
    fine = S4D(8, d_state=16).double()
    coarse = S4D(8, d_state=16).double()
    coarse.load_state_dict(fine.state_dict())
    coarse.rescale_step(2.0)
    assert torch.allclose(coarse.log_dt, fine.log_dt + math.log(2.0))
    v = torch.randn(2, 40, 8, dtype=torch.float64)
    y_fine = fine(v.repeat_interleave(2, dim=1))
    y_coarse = coarse(v)
    assert torch.allclose(y_fine[:, 1::2], y_coarse, atol=1e-4), (y_fine[:, 1::2] - y_coarse).abs().max()
    assert not torch.allclose(fine(v), y_coarse, atol=1e-2)  # without the rescale the outputs differ
    backbone = Backbone(BackboneConfig(d_model=8, n_layers=2, mixer="s4d", bidirectional=True))
    before = [p.clone() for n, p in backbone.named_parameters() if n.endswith("log_dt")]
    backbone.rescale_step(0.5)
    after = [p for n, p in backbone.named_parameters() if n.endswith("log_dt")]
    assert len(after) == 4 and all(torch.allclose(a, b + math.log(0.5)) for a, b in zip(after, before))
    with pytest.raises(Exception, match="no step size to rescale"):
        Backbone(BackboneConfig(d_model=8, n_layers=1, mixer="mamba")).rescale_step(2.0)
