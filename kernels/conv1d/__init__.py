"""Causal depthwise conv1d."""

from importlib.util import find_spec

from .reference import causal_conv1d_ref, causal_conv1d_update_ref

__all__ = ["causal_conv1d_ref", "causal_conv1d_update_ref"]

if find_spec("triton") is not None:  # the GPU path; the reference covers everything without Triton
    from .triton import causal_conv1d_triton, causal_conv1d_update_triton  # noqa: F401

    __all__ += ["causal_conv1d_triton", "causal_conv1d_update_triton"]
