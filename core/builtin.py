"""The core's own registrations, published through the same entry point group as plug-ins."""

from __future__ import annotations

from . import API_VERSION, __version__
from .heads import HEADS
from .layers import MIXERS
from .plugin import Plugin
from .scan_orders import SCAN_ORDERS

plugin = Plugin(
    name="core",
    version=__version__,
    api_version=API_VERSION,
    description="generic mixers, heads and scan orders",
    heads=dict(HEADS),
    scan_orders=dict(SCAN_ORDERS),
    mixers=dict(MIXERS),
)
