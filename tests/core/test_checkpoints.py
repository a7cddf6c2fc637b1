"""Crash-safe checkpoints: atomic writes, the resumable training loader, the CLI's defaults."""

import pytest
import torch

from ssmkit.data.loader import EpochSampler, ResumableLoader
from ssmkit.tasks.checkpoints import AtomicCheckpointIO, rng_states, set_rng_states


def test_a_crash_while_saving_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "global_step": 1}, path)
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left behind

    real_save = torch.save

    def half_then_die(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(f.tell() // 2)  # half the bytes reached the disk, then the process "died"
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_then_die)
    try:
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "global_step": 2}, path)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the simulated crash did not happen")
    monkeypatch.undo()
    loaded = torch.load(path, weights_only=True)
    assert loaded["global_step"] == 1 and torch.equal(loaded["state_dict"]["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    torch.save({"rng": rng_states()}, tmp_path / "r.ckpt")
    expected = torch.rand(3), np.random.rand(3), random.random()
    set_rng_states(torch.load(tmp_path / "r.ckpt", weights_only=True)["rng"])
    got = torch.rand(3), np.random.rand(3), random.random()
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def _loader(seed=0):
    return ResumableLoader(list(range(20)), batch_size=4, sampler=EpochSampler(20, seed))


def test_epoch_sampler_orders_depend_on_seed_and_epoch_only():
    a, b = _loader(), _loader()
    first = [x.tolist() for x in a]
    assert first == [x.tolist() for x in b] and sorted(sum(first, [])) == list(range(20))
    a.sampler.set_epoch(1)
    assert [x.tolist() for x in a] != first
    assert [x.tolist() for x in _loader(seed=1)] != first


def test_a_loader_resumed_mid_epoch_serves_the_batches_it_had_not():
    full = _loader()
    full.sampler.set_epoch(2)
    expected = [x.tolist() for x in full]
    run = _loader()
    run.sampler.set_epoch(2)
    it = iter(run)
    seen = [next(it).tolist() for _ in range(2)]
    state = run.state_dict()
    assert state == {"epoch": 2, "batches": 2, "processes": 1}
    resumed = _loader()
    resumed.load_state_dict(state)
    rest = iter(resumed)  # Lightning makes the iterator before it calls set_epoch: the order must not start yet
    resumed.sampler.set_epoch(2)
    assert seen + [x.tolist() for x in rest] == expected
    assert resumed.state_dict() == {"epoch": 2, "batches": 5, "processes": 1}
    resumed.sampler.set_epoch(3)  # the next epoch is whole again
    assert len([x for x in resumed]) == 5


@pytest.mark.parametrize("n", [20, 23])
def test_epoch_sampler_shards_one_seeded_order_over_processes(n):
    """Three processes: each takes every third index of the seeded order (padded by its head to a multiple of
    3), so the shards cover the order once, plus the padding; a shard resumed mid-epoch serves the rest of it."""
    whole = list(EpochSampler(n, seed=5))
    per = -(-n // 3)  # 7 for 20, 8 for 23
    shards = [EpochSampler(n, seed=5, num_replicas=3, rank=r) for r in range(3)]
    got = [list(s) for s in shards]
    assert all(len(g) == len(s) == per for g, s in zip(got, shards))
    padded = whole + whole[:3 * per - n]
    assert got == [padded[r::3] for r in range(3)]
    assert sorted(sum(got, [])) == sorted(padded)
    shards[1].set_epoch(4)
    full = list(shards[1])
    shards[1].resume(4, 3)
    assert list(shards[1]) == full[3:] and full != got[1]
    with pytest.raises(ValueError, match="rank 3"):
        EpochSampler(n, num_replicas=3, rank=3)
    # a place saved with another number of processes does not carry over: the epoch starts again, with a warning
    two = ResumableLoader(list(range(n)), batch_size=2, sampler=EpochSampler(n, seed=5, num_replicas=3, rank=0))
    with pytest.warns(UserWarning, match="starts again from its first batch"):
        two.load_state_dict({"epoch": 4, "batches": 2, "processes": 1})
    fresh = EpochSampler(n, seed=5, num_replicas=3, rank=0)
    fresh.set_epoch(4)
    assert [int(i) for b in two for i in b] == list(fresh)  # the whole shard of epoch 4


def test_the_pipeline_cli_saves_every_checkpoint_atomically(tmp_path, monkeypatch):
    from ssmkit.cli.main import main
    from ssmkit.tasks import checkpoints

    saved = []
    real = checkpoints.atomic_write

    def recording(path, *args, **kwargs):
        saved.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "atomic_write", recording)
    monkeypatch.chdir(tmp_path)
    rc = main(["template", "classify", "fit", "--model.d_model", "8", "--model.n_layers", "1",
               "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1",
               "--trainer.enable_progress_bar", "false", "--last_checkpoint.every_n_steps", "2"])
    assert rc == 0
    folder = tmp_path / "runs/template-classify/lightning_logs/version_0/checkpoints"
    assert {p.name for p in folder.iterdir()} == {"last.ckpt", "best-epoch000.ckpt"}  # no temporaries
    assert {str(folder / "last.ckpt"), str(folder / "best-epoch000.ckpt")} <= {str(tmp_path / p) for p in saved}
    last = torch.load(folder / "last.ckpt", weights_only=True)
    assert last["global_step"] == 3 and last["epoch"] == 0  # the end of training, not the best epoch's copy


def test_fitted_state_is_made_plain_for_weights_only_loading(tmp_path):
    """numpy scalars, tuples and paths in a fitted state become plain Python, so the checkpoint loads with
    weights_only=True; anything else is refused when it is saved, not when it is loaded."""
    from pathlib import Path

    import numpy as np
    import torch

    from ssmkit.data.datamodule import DataModule
    from ssmkit.errors import ConfigError

    class _Fitted(DataModule):
        def __init__(self, state):
            super().__init__()
            self.state = state

        def fitted_state(self):
            return self.state

    raw = {"classes": (np.str_("a"), "b"), "length": np.int64(7), "mean": [np.float32(0.5)], "file": Path("x.csv"),
           "nested": {"k": (1, np.bool_(True))}, "none": None}
    state = _Fitted(raw).state_dict()["fitted"]
    assert state == {"classes": ["a", "b"], "length": 7, "mean": [0.5], "file": "x.csv",
                     "nested": {"k": [1, True]}, "none": None}
    assert type(state["length"]) is int and type(state["classes"][0]) is str
    torch.save({"dm": {"fitted": state}}, tmp_path / "c.ckpt")
    assert torch.load(tmp_path / "c.ckpt", weights_only=True)["dm"]["fitted"] == state
    with pytest.raises(ConfigError, match=r"fitted_state\(\)\['bad'\] holds a object"):
        _Fitted({"bad": object()}).state_dict()
    assert "fitted" not in _Fitted(None).state_dict()


def test_atomic_writes_get_the_umask_permissions_not_the_temporary_files(tmp_path):
    """Outputs written through a temporary file read like any other new file (0644 under umask 022), not 0600."""
    import os
    import stat

    from ssmkit.atomic import atomic_write

    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "out.csv") as handle:
            handle.write("a\n")
        with open(tmp_path / "plain.csv", "w") as handle:
            handle.write("a\n")
        os.umask(0o077)
        with atomic_write(tmp_path / "private.csv") as handle:
            handle.write("a\n")
    finally:
        os.umask(old)
    mode = lambda name: stat.S_IMODE((tmp_path / name).stat().st_mode)  # noqa: E731
    assert mode("out.csv") == mode("plain.csv") == 0o644 and mode("private.csv") == 0o600
