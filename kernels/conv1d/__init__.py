"""Causal depthwise conv1d."""

from .reference import causal_conv1d_ref, causal_conv1d_update_ref

__all__ = ["causal_conv1d_ref", "causal_conv1d_update_ref"]
