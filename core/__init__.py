"""ssmkit: state-space-model backbones with fast kernels and plug-in domain pipelines.

Floors, each importing only the ones below: ``ssmkit.kernels`` (ops) -> ``ssmkit.layers``
(mixers, blocks) -> ``ssmkit.backbone`` / wrappers / scan orders -> ``ssmkit.tasks`` and the CLI.
"""

if __name__ != "ssmkit":  # the folder core/ is only ever the package ssmkit
    raise ImportError(f"import ssmkit, not {__name__!r}")

__version__ = "0.1.0"
API_VERSION = "1.0"  # the plug-in contract's version; see plugins/README.md

from .backbone import Backbone, BackboneConfig  # noqa: E402
from .bidirectional import Bidirectional  # noqa: E402
from .layers import S4D, Block, Mamba, Mamba2, RMSNorm  # noqa: E402
from .multi_order import MultiOrder  # noqa: E402
from .plugin import Plugin  # noqa: E402
from .scan_orders import ScanOrder  # noqa: E402

__all__ = [
    "__version__", "API_VERSION", "Backbone", "BackboneConfig", "Bidirectional", "Block",
    "Mamba", "Mamba2", "S4D", "RMSNorm", "MultiOrder", "Plugin", "ScanOrder",
]
