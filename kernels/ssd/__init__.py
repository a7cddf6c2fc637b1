"""Chunked SSD scan (Mamba-2): ``ssd_scan_ref`` (PyTorch) and ``ssd_scan_triton`` (when Triton imports)."""

from .reference import ssd_scan_ref

__all__ = ["ssd_scan_ref"]

try:
    import triton  # noqa: F401
except ImportError:  # a machine without Triton still has the reference
    pass
else:
    from .triton import ssd_scan_triton  # noqa: F401

    __all__ += ["ssd_scan_triton"]
