import pytest
import torch

from ssmkit import kernels


def test_reference_runs_on_cpu_and_can_be_forced(monkeypatch):
    x = torch.randn(1, 2, 5)
    assert kernels.pick("causal_conv1d", x) is kernels.causal_conv1d_ref
    monkeypatch.setenv("SSMKIT_KERNELS", "reference")
    assert kernels.pick("selective_scan", x) is kernels.selective_scan_ref


def test_forcing_a_missing_backend_is_a_clear_error(monkeypatch):
    if "triton" in kernels.backends("fft_conv"):
        pytest.skip("a Triton fft_conv exists")
    monkeypatch.setenv("SSMKIT_KERNELS", "triton")
    with pytest.raises(RuntimeError, match="no Triton kernel.*fft_conv"):
        kernels.fft_conv(torch.randn(1, 2, 4), torch.randn(2, 4))


def test_bad_backend_name(monkeypatch):
    monkeypatch.setenv("SSMKIT_KERNELS", "cuda")
    with pytest.raises(ValueError, match="SSMKIT_KERNELS"):
        kernels.fft_conv(torch.randn(1, 2, 4), torch.randn(2, 4))
