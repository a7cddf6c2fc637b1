"""Leave-one-out: the test item is never trained on, the validation item only as an input of the test, windows
lose no training target; the data module on written files."""

import numpy as np
import pytest
from ssmkit_recsys.data import NextItemDataModule
from ssmkit_recsys.split import EvalSet, TrainWindows, leave_one_out, pad_right

from ssmkit.errors import ConfigError, DataError


def test_pad_right_keeps_the_latest_items():
    assert pad_right(np.array([1, 2, 3, 4, 5]), 3).tolist() == [3, 4, 5]
    assert pad_right(np.array([7, 8]), 4).tolist() == [7, 8, 0, 0]


def test_leave_one_out_never_trains_on_held_out_items():
    rng = np.random.default_rng(0)
    hists = [rng.permutation(np.arange(1, 60))[: rng.integers(1, 40)] for _ in range(200)]
    sp = leave_one_out(hists)
    windows = TrainWindows(sp.train, max_len=8)
    trained = {u: set() for u in range(len(hists))}  # items each user is trained on (inputs and targets)
    targets = {u: [] for u in range(len(hists))}
    for i in range(len(windows)):
        w = windows[i]
        u = w["index"]
        x, y = w["x"].numpy(), w["y"].numpy()
        assert ((x > 0) == (y > 0)).all()  # a target at each real input, none at padding
        trained[u] |= set(x[x > 0]) | set(y[y > 0])
        targets[u] += list(y[y > 0])
    for u, h in enumerate(hists):
        if len(h) >= 3:
            assert u in sp.test_users and u in sp.val_users
            assert sp.test_target(u) == h[-1] and sp.val_target(u) == h[-2]
            assert h[-1] not in trained[u] and h[-2] not in trained[u]
            assert sorted(targets[u]) == sorted(h[1:-2])  # every training target exactly once
            assert list(sp.test_input(u)) == list(h[:-1]) and list(sp.val_input(u)) == list(h[:-2])
        else:
            assert u not in sp.test_users and u not in sp.val_users
            assert sorted(targets[u]) == sorted(h[1:])


def test_eval_set_lists_earlier_items_but_never_the_target():
    ds = EvalSet(np.array([4]), [np.array([5, 3, 9, 3])], [3], max_len=3, seen_len=6)
    item = ds[0]
    assert item["x"].tolist() == [3, 9, 3] and item["target"] == 3 and item["index"] == 4
    assert sorted(s for s in item["seen"].tolist() if s) == [5, 9]


def _log(path, n_users=30, n_items=12, seed=0):
    rng = np.random.default_rng(seed)
    lines = [f"u{u} " + " ".join(f"i{int(i)}" for i in rng.integers(0, n_items, rng.integers(3, 9)))
             for u in range(n_users)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_data_module_on_a_written_log(tmp_path):
    dm = NextItemDataModule(path=str(_log(tmp_path / "log.txt")), max_len=4, batch_size=8)
    dm.setup("fit")
    assert dm.source == "real: log.txt" and dm.n_items <= 12
    assert len(dm.test_set) == len(dm.val_set) == 30
    batch = next(iter(dm.test_dataloader()))
    assert batch["x"].shape == (8, 4) and batch["target"].shape == (8,)
    assert int(batch["x"].max()) <= dm.n_items and int(batch["target"].min()) >= 1


def test_data_module_errors(tmp_path):
    with pytest.raises(ConfigError, match="--data.max_len"):
        NextItemDataModule(path="x.txt", max_len=0)
    with pytest.raises(ConfigError, match="--data.unknown_items"):
        NextItemDataModule(path="x.txt", unknown_items="ignore")
    short = tmp_path / "short.txt"
    short.write_text("a 1 2\nb 2\n")
    with pytest.raises(DataError, match="no user has 3 or more interactions"):
        NextItemDataModule(path=str(short)).setup("fit")
    with pytest.raises(DataError, match="not in the data directory"):
        NextItemDataModule(dataset="recsys/Beauty", data_dir=str(tmp_path)).setup("fit")


def test_beauty_as_released(shared_data):
    dm = NextItemDataModule(data_dir=str(shared_data))
    hist = dm.histories
    assert (len(hist), dm.n_items, hist.n_interactions) == (22_363, 12_101, 198_502)
    dm.setup("fit")
    assert len(dm.test_set) == 22_363  # every user has >= 5 items: all are tested


def test_predict_skips_unknown_items_and_reports_them(tmp_path):
    log = _log(tmp_path / "log.txt")
    known = log.read_text().split()[1]
    new = tmp_path / "new.txt"
    new.write_text(f"ann {known} nope1\nbob nope2 nope3\ncid {known}\n")
    dm = NextItemDataModule(path=str(log), max_len=4, predict_path=str(new), unknown_items="skip")
    with pytest.warns(UserWarning, match=r"skipped 3 interaction.*1 user\(s\) had no known item left.*'bob'"):
        dm.setup("predict")
    assert dm._predict_users == ["ann", "cid"] and len(dm.predict_set) == 2
    new.write_text(f"ann {known} nope1\ncid {known}\n")  # items dropped, nobody left empty
    dm = NextItemDataModule(path=str(log), max_len=4, predict_path=str(new), unknown_items="skip")
    with pytest.warns(UserWarning, match=r"skipped 1 interaction\(s\) with items the model never saw$"):
        dm.setup("predict")
    assert dm._predict_users == ["ann", "cid"]
    new.write_text("bob nope2 nope3\n")
    with pytest.raises(DataError, match="no user has a known item"), pytest.warns(UserWarning):
        NextItemDataModule(path=str(log), predict_path=str(new), unknown_items="skip").setup("predict")
    with pytest.raises(DataError, match="new.txt.*line 1.*'nope2'"):
        NextItemDataModule(path=str(log), predict_path=str(new)).setup("predict")
