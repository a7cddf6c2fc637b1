"""Chunked SSD scan (Mamba-2): ``ssd_scan_ref`` (PyTorch) and ``ssd_scan_triton`` (when Triton imports)."""

from .reference import ssd_scan_ref

__all__ = ["ssd_scan_ref"]

_TRITON = ('ssd_scan_triton',)


def __getattr__(name: str):
    """The Triton versions are imported on first access: importing this package never imports Triton."""
    if name in _TRITON:
        from . import triton

        return getattr(triton, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
