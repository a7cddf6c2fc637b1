import pytest


@pytest.fixture(autouse=True)
def _graph_cache(tmp_path, monkeypatch):
    """torch_geometric's processed files go to the test's folder, never to the data directory."""
    monkeypatch.setenv("SSMKIT_GRAPHS_CACHE", str(tmp_path / "pyg-cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
