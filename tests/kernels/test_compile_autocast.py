"""Every Triton op inside a real layer: under torch.compile (fake tensors, custom-op autograd) and autocast."""

import pytest
import torch

pytest.importorskip("triton")

from ssmkit.layers import Mamba  # noqa: E402


def _layer_and_input(device, seed=0, d_model=16, L=21):
    torch.manual_seed(seed)
    m = Mamba(d_model, d_state=4).to(device)
    h = torch.randn(2, L, d_model, device=device, requires_grad=True)
    return m, h


def _grads(m, h, out):
    g = torch.randn_like(out)
    return torch.autograd.grad(out, [h, *m.parameters()], g)


def test_mamba_layer_with_triton_ops_compiles_and_matches_eager(monkeypatch):
    monkeypatch.setenv("SSMKIT_KERNELS", "triton")
    m, h = _layer_and_input("cpu")
    eager = m(h)
    compiled = torch.compile(m, backend="aot_eager", fullgraph=True)(h)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)
    torch.manual_seed(1)
    ge = _grads(m, h, eager)
    torch.manual_seed(1)
    gc = _grads(m, h, compiled)
    for a, b in zip(gc, ge):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_mamba_layer_with_triton_ops_under_autocast(monkeypatch):
    m, h = _layer_and_input("cpu", seed=3)
    monkeypatch.setenv("SSMKIT_KERNELS", "reference")
    ref = m(h)
    monkeypatch.setenv("SSMKIT_KERNELS", "triton")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(h)
    assert out.dtype == torch.bfloat16
    rel = (out.float() - ref).norm() / ref.norm()
    assert rel < 3e-2, rel
    out.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_inductor_compile_and_autocast():
    torch.manual_seed(0)
    m = Mamba(768).cuda()
    h = torch.randn(2, 1024, 768, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        eager = m(h)
        compiled = torch.compile(m, fullgraph=True)(h)
    rel = (compiled.float() - eager.float()).norm() / eager.float().norm()
    assert torch.isfinite(compiled).all() and rel < 2e-2, rel
    compiled.float().sum().backward()
    assert torch.isfinite(h.grad).all()
