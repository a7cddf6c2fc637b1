"""Causal depthwise conv1d: the reference here; the Triton version in ``.triton`` (imported by dispatch on use)."""

from .reference import causal_conv1d_ref, causal_conv1d_update_ref

__all__ = ["causal_conv1d_ref", "causal_conv1d_update_ref"]
