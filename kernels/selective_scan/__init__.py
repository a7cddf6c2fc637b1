"""Selective scan (Mamba-1)."""

from .reference import selective_scan_ref

__all__ = ["selective_scan_ref"]
