"""The step size inside Triton kernels: the device-side twin of ``step_size.prepare_dt``."""

import triton
import triton.language as tl


@triton.jit
def softplus(v):
    """torch's softplus (threshold 20), with log1p(exp(v)) free of cancellation for very negative v:
    log(u) * e / (u - 1) is exact to rounding (Goldberg)."""
    e = tl.exp(tl.minimum(v, 20.0))
    u = 1.0 + e
    one = u == 1.0
    return tl.where(v > 20.0, v, tl.where(one, e, tl.log(u) * (e / tl.where(one, 1.0, u - 1.0))))
