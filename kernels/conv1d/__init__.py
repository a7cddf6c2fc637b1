"""Causal depthwise conv1d."""

from .reference import causal_conv1d_ref, causal_conv1d_update_ref

__all__ = ["causal_conv1d_ref", "causal_conv1d_update_ref"]

_TRITON = ('causal_conv1d_triton', 'causal_conv1d_update_triton')


def __getattr__(name: str):
    """The Triton versions are imported on first access: importing this package never imports Triton."""
    if name in _TRITON:
        from . import triton

        return getattr(triton, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
