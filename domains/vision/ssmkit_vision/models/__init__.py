"""Vision models. Importing this package registers the image models in timm's model registry
(``timm.create_model("ssmkit_vim_tiny")``, ``timm.list_models("ssmkit_*")``)."""

from .cross_scan import CrossScan
from .vision_ssm import MODEL_NAMES, VisionSSM

__all__ = ["CrossScan", "MODEL_NAMES", "VisionSSM"]
