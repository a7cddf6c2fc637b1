"""Chunked SSD scan (Mamba-2)."""

from .reference import ssd_scan_ref

__all__ = ["ssd_scan_ref"]
