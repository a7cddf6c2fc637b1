"""The vision plug-in's mixers (registered with the core): cheap to import, no timm."""

from .channel_flip import ChannelFlip
from .cross_scan import CrossScan

__all__ = ["ChannelFlip", "CrossScan"]
