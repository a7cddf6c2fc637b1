"""ssmkit.kernels: one function per op, whatever runs it.

Each op has a pure-PyTorch reference (the ground truth, and the CPU path); GPU kernels
register themselves beside it. See ``dispatch`` for how one is chosen.
"""

if __name__ != "ssmkit.kernels":  # the folder kernels/ is only ever ssmkit.kernels
    raise ImportError(f"import ssmkit.kernels, not {__name__!r}")

import torch  # noqa: E402

from .conv1d import causal_conv1d_ref, causal_conv1d_update_ref  # noqa: E402
from .dispatch import backends, load_triton, pick, register_impl, triton_available  # noqa: E402
from .fftconv import fft_conv_ref  # noqa: E402
from .packing import pack, seq_idx_from_cu_seqlens, unpack  # noqa: E402
from .selective_scan import selective_scan_ref  # noqa: E402
from .ssd import ssd_scan_ref  # noqa: E402
from .state_update import selective_state_update_ref, ssd_state_update_ref  # noqa: E402

register_impl("selective_scan", "reference", selective_scan_ref)
register_impl("ssd_scan", "reference", ssd_scan_ref)
register_impl("causal_conv1d", "reference", causal_conv1d_ref)
register_impl("causal_conv1d_update", "reference", causal_conv1d_update_ref)
register_impl("fft_conv", "reference", fft_conv_ref)
register_impl("selective_state_update", "reference", selective_state_update_ref)
register_impl("ssd_state_update", "reference", ssd_state_update_ref)
register_impl("selective_scan", "triton", "ssmkit.kernels.selective_scan.triton:selective_scan_triton")
register_impl("ssd_scan", "triton", "ssmkit.kernels.ssd.triton:ssd_scan_triton")
register_impl("causal_conv1d", "triton", "ssmkit.kernels.conv1d.triton:causal_conv1d_triton")
register_impl("causal_conv1d_update", "triton", "ssmkit.kernels.conv1d.triton:causal_conv1d_update_triton")
register_impl("selective_state_update", "triton", "ssmkit.kernels.state_update.triton:selective_state_update_triton")
register_impl("ssd_state_update", "triton", "ssmkit.kernels.state_update.triton:ssd_state_update_triton")
if triton_available() and torch.cuda.is_available():
    load_triton()


def selective_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                      return_last_state=False, initial_state=None, seq_idx=None):
    """Mamba-1 selective scan; see ``selective_scan_ref`` for shapes; ``seq_idx`` (batch, L) packs sequences."""
    return pick("selective_scan", u)(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                     return_last_state, initial_state, seq_idx)


def ssd_scan(x, dt, A, B, C, chunk_size=64, D=None, z=None, dt_bias=None, initial_states=None,
             dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False, seq_idx=None):
    """Mamba-2 chunked SSD scan; see ``ssd_scan_ref`` for shapes; ``seq_idx`` (batch, L) packs sequences."""
    return pick("ssd_scan", x)(x, dt, A, B, C, chunk_size, D, z, dt_bias, initial_states,
                               dt_softplus, dt_limit, return_final_states, seq_idx)


def causal_conv1d(x, weight, bias=None, activation=None, initial_states=None, return_final_states=False,
                  seq_idx=None):
    """Causal depthwise conv1d; see ``causal_conv1d_ref``; ``seq_idx`` (batch, L) packs sequences."""
    return pick("causal_conv1d", x)(x, weight, bias, activation, initial_states, return_final_states, seq_idx)


def causal_conv1d_update(x, conv_state, weight, bias=None, activation=None):
    """One causal conv1d step; see ``causal_conv1d_update_ref``."""
    return pick("causal_conv1d_update", x)(x, conv_state, weight, bias, activation)


def fft_conv(u, k, D=None):
    """Causal FFT long convolution; see ``fft_conv_ref``."""
    return pick("fft_conv", u)(u, k, D)


def selective_state_update(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False):
    """One Mamba-1 recurrent step; see ``selective_state_update_ref``."""
    return pick("selective_state_update", x)(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus)


def ssd_state_update(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False,
                     dt_limit=(0.0, float("inf"))):
    """One Mamba-2 recurrent step; see ``ssd_state_update_ref``."""
    return pick("ssd_state_update", x)(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, dt_limit)


# mamba_ssm's names, for drop-in use
selective_scan = selective_scan_fn
mamba_chunk_scan_combined = ssd_scan

__all__ = [
    "selective_scan_fn", "selective_scan", "ssd_scan", "mamba_chunk_scan_combined",
    "causal_conv1d", "causal_conv1d_update", "fft_conv", "selective_state_update",
    "ssd_state_update", "selective_scan_ref", "ssd_scan_ref", "causal_conv1d_ref",
    "causal_conv1d_update_ref", "fft_conv_ref", "selective_state_update_ref",
    "ssd_state_update_ref", "backends", "pick", "register_impl", "triton_available", "load_triton",
    "pack", "unpack", "seq_idx_from_cu_seqlens",
]
