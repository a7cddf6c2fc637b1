"""Vision models. Importing this package registers the image and point-cloud models in timm's model
registry (``timm.create_model("ssmkit_vim_tiny")``, ``timm.create_model("ssmkit_pointmamba")``,
``timm.list_models("ssmkit_*")``)."""

from ..mixers import ChannelFlip, CrossScan
from .point_ssm import PointSSM
from .vision_ssm import MODEL_NAMES, VisionSSM

__all__ = ["ChannelFlip", "CrossScan", "MODEL_NAMES", "PointSSM", "VisionSSM"]
