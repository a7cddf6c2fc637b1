"""The plug-in contract: what a distribution's ``ssmkit.plugins`` entry point points at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("datasets", "heads", "scan_orders", "mixers", "pipelines")


@dataclass
class Plugin:
    """What a plug-in adds. Keys are plain names; the registry namespaces them as "name/key".

    api_version: the core API version the plug-in was written for ("MAJOR.MINOR"); it
    loads when MAJOR equals the core's and MINOR is not newer.
    """

    name: str
    version: str
    api_version: str
    description: str = ""
    datasets: dict[str, Any] = field(default_factory=dict)
    heads: dict[str, Any] = field(default_factory=dict)
    scan_orders: dict[str, Any] = field(default_factory=dict)
    mixers: dict[str, Any] = field(default_factory=dict)
    pipelines: dict[str, Any] = field(default_factory=dict)

    def items(self, kind: str) -> dict[str, Any]:
        return getattr(self, kind)


def api_compatible(wanted: str, core: str) -> bool:
    """True when a plug-in written for ``wanted`` runs on core API ``core``."""
    try:
        w_major, w_minor = (int(p) for p in wanted.split(".")[:2])
        c_major, c_minor = (int(p) for p in core.split(".")[:2])
    except (ValueError, AttributeError):
        return False
    return w_major == c_major and w_minor <= c_minor
