"""Layers: mixers (Mamba, Mamba2, S4D), norms and the residual block."""

from .block import Block, GatedMLP
from .mamba import Mamba
from .mamba2 import Mamba2
from .norm import GatedRMSNorm, RMSNorm, make_norm
from .s4d import S4D

MIXERS = {"mamba": Mamba, "mamba2": Mamba2, "s4d": S4D}

__all__ = ["Block", "GatedMLP", "Mamba", "Mamba2", "S4D", "RMSNorm", "GatedRMSNorm", "make_norm", "MIXERS"]
