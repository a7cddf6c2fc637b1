import builtins
import os
import zipfile
from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():  # Triton kernels run on CPU tensors through the interpreter
    os.environ.setdefault("TRITON_INTERPRET", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (clone with ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSMKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SSMKIT_KERNELS", raising=False)
    os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture
def no_whole_file_reads(monkeypatch):
    """Readers must stream: Path.read_text/read_bytes, ZipFile.read and open(...).read() without a size fail
    (a read of a binary file's last KB is allowed: zipfile reads its end record so)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a whole-file read")

    class Sized:
        def __init__(self, handle):
            self._handle = handle

        def read(self, size=-1):
            if size is None or size < 0:
                tail = "b" in self._handle.mode and os.fstat(self._handle.fileno()).st_size - self._handle.tell()
                if tail is False or tail > 1024:
                    raise AssertionError("open(...).read() without a size")
            return self._handle.read(size)

        def __iter__(self):
            return iter(self._handle)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

        def __getattr__(self, name):
            return getattr(self._handle, name)

    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: Sized(real_open(*a, **k)))
    monkeypatch.setattr(Path, "read_text", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "read", refuse)

