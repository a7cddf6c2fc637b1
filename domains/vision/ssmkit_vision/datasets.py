"""Public vision datasets the vision plug-in knows.

``DATASETS`` maps a name to its files (paths under the data directory, as in a local mirror):

* ``mnist``: the project's mirror of MNIST (the first 8,000 digits of the official test set, IDX, gzipped);
  sha256 and size are those of the shared copies. It is a slice, so it has no download URL of its own.
* ``mnist_full``: the official MNIST files (60,000 training + 10,000 test digits) from the PyTorch
  project's S3 mirror of LeCun's files (the original site now asks for a login). Sizes are those of the
  official files; their sha256 is not pinned here (``ssmkit data verify`` reports them "unchecked").
* ``mnist-points``: the same files as ``mnist``, read as 2-D point sets (pixels above a threshold).
* ``modelnet10``: the project's mirror of the ModelNet10 training split as 1,024-point PCD files
  (``vision/modelnet10/<class>/train/*.pcd``); a local mirror, no URL (the point-cloud pipeline reads the
  official zip instead when only that is in the data directory).
* ``modelnet10_off`` / ``modelnet40``: the official Princeton archives of OFF meshes
  (``ModelNet10/<class>/{train,test}/<class>_NNNN.off``), read inside the zip without extracting it; their
  sizes and sha256 are not pinned here (``ssmkit data verify`` reports them "unchecked").

``MNIST_FILES`` gives each MNIST entry's {split: (images file, labels file)}.
"""

from __future__ import annotations

from ssmkit.data import DatasetEntry, RemoteFile

MNIST_HOME = "http://yann.lecun.com/exdb/mnist/"
MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist"
MNIST_CITATION = ("LeCun, Y., Bottou, L., Bengio, Y., Haffner, P. Gradient-based learning applied to document "
                  "recognition. Proceedings of the IEEE 86(11): 2278-2324 (1998). doi:10.1109/5.726791")
MNIST_LICENCE = "CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. J. C. Burges)"

MODELNET_HOME = "https://modelnet.cs.princeton.edu/"
MODELNET_CITATION = ("Wu, Z., Song, S., Khosla, A., Yu, F., Zhang, L., Tang, X., Xiao, J. 3D ShapeNets: A Deep "
                     "Representation for Volumetric Shapes. CVPR 2015, pp. 1912-1920. doi:10.1109/CVPR.2015.7298801")
MODELNET_LICENCE = ("academic research use only; the CAD models' copyright stays with their authors "
                    "(Princeton ModelNet terms); do not redistribute")

MODELNET10_CLASSES = ("bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table",
                      "toilet")

MNIST_FILES: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {"all": ("vision/mnist/images-idx3-ubyte.gz", "vision/mnist/labels-idx1-ubyte.gz")},
    "mnist_full": {
        "train": ("vision/mnist_full/train-images-idx3-ubyte.gz", "vision/mnist_full/train-labels-idx1-ubyte.gz"),
        "test": ("vision/mnist_full/t10k-images-idx3-ubyte.gz", "vision/mnist_full/t10k-labels-idx1-ubyte.gz"),
    },
}

_MNIST_FULL_SIZES = {"train-images-idx3-ubyte.gz": 9_912_422, "train-labels-idx1-ubyte.gz": 28_881,
                     "t10k-images-idx3-ubyte.gz": 1_648_877, "t10k-labels-idx1-ubyte.gz": 4_542}


def _mnist_full() -> DatasetEntry:
    files = tuple(RemoteFile(f"vision/mnist_full/{name}", url=f"{MNIST_MIRROR}/{name}", size=size)
                  for name, size in _MNIST_FULL_SIZES.items())
    return DatasetEntry(
        files=files, licence=MNIST_LICENCE, citation=MNIST_CITATION, homepage=MNIST_HOME,
        description="MNIST handwritten digits, official split: 60,000 training and 10,000 test images, 28x28 "
                    "grey, 10 classes (IDX, gzipped).")


_MNIST_MIRROR = (
    RemoteFile(MNIST_FILES["mnist"]["all"][0],
               sha256="fe01399cfb5c067e57e9e53510c1eb2411649a9cc9fe71acf1d888af3c456cc0", size=1_271_149),
    RemoteFile(MNIST_FILES["mnist"]["all"][1],
               sha256="a7fe1a2b4195b5254035cd5248e550551ea464c2a307bd11c714a49f1374673c", size=3_813),
)

DATASETS: dict[str, DatasetEntry] = {
    "mnist": DatasetEntry(
        files=_MNIST_MIRROR,
        licence=MNIST_LICENCE, citation=MNIST_CITATION, homepage=MNIST_HOME,
        description="MNIST digits, the first 8,000 of the official test set (IDX, gzipped), 28x28 grey, 10 "
                    "classes; no fixed split (the pipeline holds out a stratified 20%). A local mirror only: "
                    "fetch 'vision/mnist_full' for the whole set."),
    "mnist_full": _mnist_full(),
    "mnist-points": DatasetEntry(
        files=_MNIST_MIRROR,
        licence=MNIST_LICENCE, citation=MNIST_CITATION, homepage=MNIST_HOME,
        description="MNIST digits (the 'mnist' mirror's 8,000) as 2-D point sets: the pixels above a threshold "
                    "become (x, y, 0) points, sampled to a fixed count; a local mirror only."),
    "modelnet10": DatasetEntry(
        files=tuple(RemoteFile(f"vision/modelnet10/{c}") for c in MODELNET10_CLASSES),
        licence=MODELNET_LICENCE, citation=MODELNET_CITATION, homepage=MODELNET_HOME,
        description="The ModelNet10 training split (3,991 objects, 10 classes) as 1,024-point PCD files, "
                    "vision/modelnet10/<class>/train/*.pcd; a local mirror only (no official test split: the "
                    "pipeline holds out a stratified 15%). 'vision/modelnet10_off' is the official download."),
    "modelnet10_off": DatasetEntry(
        files=(RemoteFile("vision/ModelNet10.zip",
                          url="http://3dvision.princeton.edu/projects/2014/3DShapeNets/ModelNet10.zip"),),
        licence=MODELNET_LICENCE, citation=MODELNET_CITATION, homepage=MODELNET_HOME,
        description="ModelNet10, official archive: 4,899 CAD meshes (OFF) in 10 classes, split 3,991 train / "
                    "908 test; points are sampled from the meshes' surfaces."),
    "modelnet40": DatasetEntry(
        files=(RemoteFile("vision/ModelNet40.zip", url="http://modelnet.cs.princeton.edu/ModelNet40.zip"),),
        licence=MODELNET_LICENCE, citation=MODELNET_CITATION, homepage=MODELNET_HOME,
        description="ModelNet40, official archive: 12,311 CAD meshes (OFF) in 40 classes, split 9,843 train / "
                    "2,468 test."),
}

__all__ = ["DATASETS", "MNIST_FILES", "MODELNET10_CLASSES"]
