"""ssmkit-hyperspectral: hyperspectral cube denoising with spatial-spectral scan orders.

Importing this module stays cheap (no scipy, h5py or tifffile): the pipeline names its classes by
"module:Class" strings.
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS
from .scan import SCAN_ORDERS

__version__ = "0.1.0"

plugin = Plugin(
    name="hyperspectral",
    version=__version__,
    api_version=API_VERSION,
    description="hyperspectral denoising: MATLAB/ENVI/TIFF/NumPy/PNG-band cubes, the QRNN3D noise protocol, "
                "spatial-spectral SSM scans, low-rank and BM4D baselines",
    datasets=dict(DATASETS),
    scan_orders=dict(SCAN_ORDERS),
    pipelines={
        "denoise": Pipeline(
            model="ssmkit_hyperspectral.task:HSIDenoiser",
            data="ssmkit_hyperspectral.data:HSIDenoiseDataModule",
            description="denoise hyperspectral cubes: test prints MPSNR/MSSIM/SAM per noise case beside the noisy "
                        "input and the baselines; predict writes the denoised cube in the input's format and a "
                        "before/after PNG",
            trainer={"max_epochs": 30},
            monitor="val/psnr",
            mode="max",
            # ~20 s on 2 CPU cores: 32 x 32 crops of real CAVE 'cloth' + Jasper Ridge, tested on a CAVE crop
            demo={"model": {"d_model": 12, "n_blocks": 1, "patch_size": 4, "spatial_orders": ["row", "column"],
                            "d_state": 8, "lr": 3e-3, "baselines": ["noisy", "lowrank"]},
                  "data": {"datasets": ["hyperspectral/cave", "hyperspectral/jasper_ridge"],
                           "test_scene": "chart_and_stuffed_toy", "crop": 48, "patch_size": 24, "train_bands": 16,
                           "patches_per_epoch": 64, "batch_size": 8, "test_noise": ["gaussian50"]},
                  "trainer": {"max_epochs": 3},
                  "metrics": ["test/psnr", "test/ssim", "test/sam", "test/gaussian50/noisy/psnr",
                              "test/gaussian50/lowrank/psnr"]},
        ),
    },
)

__all__ = ["plugin", "__version__"]
