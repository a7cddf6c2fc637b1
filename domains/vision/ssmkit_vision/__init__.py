"""ssmkit-vision: images and point clouds through scan orders (sequential MNIST, Vim / VMamba-style models).

Importing this module stays cheap (no timm): pipelines name their classes by "module:Class" strings.
``import ssmkit_vision.models`` registers the image models in timm (``timm.create_model("ssmkit_vim_tiny")``).
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS
from .models.cross_scan import CrossScan
from .scan import SCAN_ORDERS

__version__ = "0.1.0"

plugin = Plugin(
    name="vision",
    version=__version__,
    api_version=API_VERSION,
    description="image classification through scan orders: IDX/folders/NumPy, Vim/VMamba-style timm models, "
                "(permuted) sequential MNIST",
    datasets=dict(DATASETS),
    scan_orders=dict(SCAN_ORDERS),
    mixers={"cross_scan": CrossScan},
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
    },
)

__all__ = ["plugin", "__version__"]
