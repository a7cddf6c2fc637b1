"""Downloads against an HTTP server on 127.0.0.1: good, corrupt, cut half-way then resumed."""

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from ssmkit import registry
from ssmkit.atomic import atomic_write
from ssmkit.data import DatasetEntry, RemoteFile, dataset_root, fetch, verify
from ssmkit.errors import DataError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    cut_first = set()
    ranges: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = PAYLOAD if self.path != "/corrupt.bin" else PAYLOAD[:-1] + b"x"
        start = 0
        rng = self.headers.get("Range")
        Handler.ranges.append((self.path, rng))
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):  # as real servers do: nothing left in that range
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path == "/cut.bin" and self.path not in Handler.cut_first:
            Handler.cut_first.add(self.path)
            self.wfile.write(body[start:start + len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops a third of the way in
            return
        self.wfile.write(body[start:])


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def entries(server, monkeypatch):
    reg = registry.REGISTRY
    reg.load("core")
    items = {
        "test/good": DatasetEntry((RemoteFile("t/good.bin", f"{server}/good.bin", SHA, len(PAYLOAD)),)),
        "test/corrupt": DatasetEntry((RemoteFile("t/corrupt.bin", f"{server}/corrupt.bin", SHA),)),
        "test/cut": DatasetEntry((RemoteFile("t/cut.bin", f"{server}/cut.bin", SHA, len(PAYLOAD)),)),
        "test/nourl": DatasetEntry((RemoteFile("t/local.bin", None, SHA),)),
    }
    for k, v in items.items():
        monkeypatch.setitem(reg._items["datasets"], k, v)
    return items


def test_good_download_verified_and_atomic(entries, tmp_path):
    statuses = fetch("test/good", tmp_path, progress=False)
    assert [s.status for s in statuses] == ["ok"]
    assert (tmp_path / "t/good.bin").read_bytes() == PAYLOAD
    assert not list((tmp_path / "t").glob("*.part"))
    assert dataset_root("test/good", tmp_path) == tmp_path / "t"
    assert verify("test/good", tmp_path)[0].status == "ok"


def test_corrupt_download_is_rejected_and_discarded(entries, tmp_path):
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch("test/corrupt", tmp_path, progress=False)
    assert not (tmp_path / "t/corrupt.bin").exists()
    assert not list((tmp_path / "t").glob("*"))


def test_cut_connection_resumes_with_a_range_request(entries, tmp_path):
    Handler.ranges.clear()
    statuses = fetch("test/cut", tmp_path, progress=False)
    assert statuses[0].status == "ok"
    assert (tmp_path / "t/cut.bin").read_bytes() == PAYLOAD
    requests = [r for p, r in Handler.ranges if p == "/cut.bin"]
    assert requests[0] is None and requests[1] is not None and requests[1].startswith("bytes=")
    assert int(requests[1].split("=")[1].rstrip("-")) > 0


@pytest.mark.parametrize("leftover", [PAYLOAD, PAYLOAD + b"junk"])
def test_a_complete_or_overlong_part_file_recovers_from_http_416(entries, tmp_path, leftover):
    # a crash after the last byte but before the rename leaves a full .part; the server answers 416
    (tmp_path / "t").mkdir()
    (tmp_path / "t/good.bin.part").write_bytes(leftover)
    Handler.ranges.clear()
    assert fetch("test/good", tmp_path, progress=False)[0].status == "ok"
    assert (tmp_path / "t/good.bin").read_bytes() == PAYLOAD
    assert not (tmp_path / "t/good.bin.part").exists()
    requests = [r for p, r in Handler.ranges if p == "/good.bin"]
    assert requests[0] == f"bytes={len(leftover)}-"
    # kept when it checks out; downloaded again from the start when it does not
    assert requests[1:] == ([] if leftover == PAYLOAD else [None])


def test_verify_reports_missing_and_corrupt_files(entries, tmp_path):
    assert verify("test/good", tmp_path)[0].status == "missing"
    with pytest.raises(DataError, match="not in the data directory"):
        dataset_root("test/good", tmp_path)
    (tmp_path / "t").mkdir()
    (tmp_path / "t/good.bin").write_bytes(b"wrong")
    assert verify("test/good", tmp_path)[0].status == "corrupt"
    # fetch replaces the corrupt file
    assert fetch("test/good", tmp_path, progress=False)[0].status == "ok"


def test_missing_file_without_url_names_the_file(entries, tmp_path):
    with pytest.raises(DataError, match="local.bin"):
        fetch("test/nourl", tmp_path, progress=False)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert not target.exists() and not list(tmp_path.iterdir())


def test_data_dir_env_and_mirror_layout(shared_data, monkeypatch, tmp_path):
    # a local mirror like ../shared/data is a data directory: entries name files by relative path
    monkeypatch.setitem(registry.REGISTRY._items["datasets"], "test/ett",
                        DatasetEntry((RemoteFile("timeseries/ETTh1.csv"),)))
    monkeypatch.setenv("SSMKIT_DATA_DIR", str(shared_data))
    assert dataset_root("test/ett") == Path(shared_data) / "timeseries"
    assert verify("test/ett")[0].status == "unchecked"


def test_check_output_guards_input_files_and_files_inside_input_folders(tmp_path):
    from ssmkit.data import DataModule
    from ssmkit.errors import ConfigError

    scans = tmp_path / "scans"
    (scans / "runs").mkdir(parents=True)
    cloud, old_run = scans / "chair_0001.pcd", scans / "runs" / "predictions.csv"
    cloud.write_text("points")
    old_run.write_text("rows")
    dm = DataModule()
    dm.predict_path, dm.labels = str(scans), tmp_path / "labels.csv"
    dm.labels.write_text("id,label")
    for bad in (cloud, dm.labels):
        with pytest.raises(ConfigError, match="will not write over it"):
            dm.check_output(bad)
    dm.check_output(scans / "new.csv")  # a new file beside the inputs
    dm.check_output(old_run)  # ssmkit's own run folder inside an input folder
    dm.check_output(tmp_path / "elsewhere.csv")
    dm.check_output(tmp_path / "new" / "deeper" / "out.csv")  # accepted: predict makes the missing folders
    with pytest.raises(ConfigError, match="is a folder"):
        dm.check_output(tmp_path)
    with pytest.raises(ConfigError, match="labels.csv is a file"):
        dm.check_output(dm.labels / "out.csv")
    with pytest.raises(ConfigError, match="batch_size 0"):
        DataModule(batch_size=0)


@pytest.mark.parametrize("name, sep", [("p.csv", ","), ("p.tsv", "\t"), ("p.TAB", "\t"), ("p.tsv.gz", None),
                                       ("p.txt", ",")])
def test_predictions_use_the_separator_their_name_asks_for(tmp_path, name, sep):
    """write_predictions: tab-separated to .tsv/.tab, comma-separated otherwise (read back with that separator);
    a compressed name is refused before anything is written."""
    import csv

    from ssmkit.data import DataModule, delimiter_for
    from ssmkit.errors import ConfigError

    if sep is None:  # compressed names are refused: the file would be plain text
        with pytest.raises(ConfigError, match=r"p\.tsv\.gz: outputs are written uncompressed"):
            DataModule().write_predictions([{"index": 0}], tmp_path / name)
        assert not list(tmp_path.iterdir())
        return
    assert delimiter_for(name) == sep
    rows = [{"index": 0, "label": "a,b", "probability": 0.5}, {"index": 1, "label": "c", "probability": 0.25}]
    out = DataModule().write_predictions(rows, tmp_path / name)
    with open(out, newline="") as handle:
        back = list(csv.DictReader(handle, delimiter=sep))
    assert back == [{k: str(v) for k, v in r.items()} for r in rows]
