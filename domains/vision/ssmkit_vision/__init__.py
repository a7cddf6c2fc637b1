"""ssmkit-vision: images and point clouds through scan orders (sequential MNIST, Vim / VMamba-style image
models, PointMamba / Mamba3D-style point-cloud models).

Importing this module stays cheap (no timm): pipelines name their classes by "module:Class" strings.
``import ssmkit_vision.models`` registers the models in timm (``timm.create_model("ssmkit_vim_tiny")``).
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS
from .mixers import ChannelFlip, CrossScan
from .scan import SCAN_ORDERS

__version__ = "0.1.0"

plugin = Plugin(
    name="vision",
    version=__version__,
    api_version=API_VERSION,
    description="image classification through scan orders: IDX/folders/NumPy, Vim/VMamba-style timm models, "
                "(permuted) sequential MNIST; point-cloud classification (PointMamba/Mamba3D-style, ModelNet)",
    datasets=dict(DATASETS),
    scan_orders=dict(SCAN_ORDERS),
    mixers={"cross_scan": CrossScan, "channel_flip": ChannelFlip},
    pipelines={
        "classify": Pipeline(
            model="ssmkit_vision.task:ImageClassifier",
            data="ssmkit_vision.data:ImageDataModule",
            description="classify images (MNIST, image folders, IDX or NumPy arrays): accuracy, top-5, "
                        "confusion matrix; predict writes file,label,probability",
            trainer={"max_epochs": 10},
            monitor="val/acc",
            mode="max",
            links={"num_classes": "num_classes", "channels": "in_chans", "img_size": "img_size"},
            # ~20 s on 2 CPU cores: 16 tokens of 7x7 pixels, 2 layers, 3,000 real digits, 2 epochs
            demo={"model": {"model": "ssmkit_vim_mnist", "options": {"embed_dim": 32, "depth": 2, "patch_size": 7},
                            "lr": 1e-2},
                  "data": {"dataset": "vision/mnist", "subset": 3000, "batch_size": 64},
                  "trainer": {"max_epochs": 2}, "metrics": ["test/acc", "test/top5"]},
        ),
        "pointcloud": Pipeline(
            model="ssmkit_vision.task:PointCloudClassifier",
            data="ssmkit_vision.pointcloud_data:PointCloudDataModule",
            description="classify point clouds (ModelNet folders/zips, PCD/PLY/OFF/XYZ/NumPy/HDF5, MNIST as "
                        "points): overall and mean-class accuracy, confusion matrix; predict writes "
                        "file,label,probability",
            trainer={"max_epochs": 100},
            monitor="val/acc",
            mode="max",
            links={"num_classes": "num_classes"},
            # ~35 s on 2 CPU cores (~0.65 accuracy): 800 real ModelNet10 clouds of 256 points (680 to train),
            # 16 groups of 16, a 64-wide 2-layer model, 5 epochs; generated shapes if ModelNet10 is absent
            demo={"model": {"model": "ssmkit_pointmamba_tiny", "options": {"n_groups": 16, "group_size": 16},
                            "lr": 3e-3, "confusion_png": False},
                  "data": {"dataset": "vision/modelnet10", "subset": 800, "num_points": 256, "batch_size": 32,
                           "allow_generated": True},
                  "trainer": {"max_epochs": 5}, "metrics": ["test/acc", "test/mean_class_acc"]},
        ),
    },
)

__all__ = ["plugin", "__version__"]
