"""Chunked SSD scan (Mamba-2): the reference here; the Triton version in ``.triton`` (imported by dispatch on use)."""

from .reference import ssd_scan_ref

__all__ = ["ssd_scan_ref"]
