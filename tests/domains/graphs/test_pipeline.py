"""The pipelines end to end: fit/test/predict of graph-classify through the console script on a written graph
set, one-line errors for bad input, and a short fit on the real MUTAG beating the majority class."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytorch_lightning as pl

from ssmkit import registry

BIN = Path(sys.executable).parent
SSMKIT = shutil.which("ssmkit", path=str(BIN)) or shutil.which("ssmkit")


def _cli(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([SSMKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _write_graph_set(folder: Path, n: int, labelled: bool = True) -> list[str]:
    """Rings (label "ring") and paths ("chain") of 4..8 nodes, as nodes.csv, edges.csv and labels.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    with open(folder / "nodes.csv", "w", newline="") as nf, open(folder / "edges.csv", "w", newline="") as ef, \
            open(folder / "labels.csv", "w", newline="") as lf:
        nodes, edges, labels = csv.writer(nf), csv.writer(ef), csv.writer(lf)
        nodes.writerow(["id", "graph", "charge"])
        edges.writerow(["src", "dst"])
        labels.writerow(["id", "label"])
        for g in range(n):
            size, ring = 4 + g % 5, g % 2 == 0
            gid = f"mol{g}"
            ids.append(gid)
            for i in range(size):
                nodes.writerow([f"{gid}_{i}", gid, (i % 3) / 2])
            for i in range(size - 1 + ring):
                edges.writerow([f"{gid}_{i}", f"{gid}_{(i + 1) % size}"])
            labels.writerow([gid, "ring" if ring else "chain"])
    return ids


def test_fit_test_predict_through_the_console_script(tmp_path):
    assert SSMKIT, "the ssmkit console script is not installed"
    _write_graph_set(tmp_path / "train", 40)
    new_ids = _write_graph_set(tmp_path / "new", 5)
    common = ["--model.d_model", "8", "--model.n_layers", "1", "--model.eval_orders", "2",
              "--data.edges", str(tmp_path / "train/edges.csv"), "--data.nodes", str(tmp_path / "train/nodes.csv"),
              "--data.labels", str(tmp_path / "train/labels.csv"), "--data.batch_size", "16"]
    fit = _cli(["graphs", "graph-classify", "fit", "--trainer.max_epochs", "1", *common], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "val/acc" in fit.stdout and "data: real: edges.csv" in fit.stdout, fit.stdout[-2000:]
    ckpts = sorted((tmp_path / "runs" / "graphs-graph-classify").rglob("last.ckpt"))
    assert len(ckpts) == 1, fit.stdout[-2000:]
    config = (ckpts[0].parent.parent / "config.yaml").read_text()
    assert "d_model: 8" in config and "edges.csv" in config

    test = _cli(["graphs", "graph-classify", "test", "--ckpt_path", str(ckpts[0])], tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "test/acc" in test.stdout and "test/auroc" in test.stdout, test.stdout[-2000:]

    out = tmp_path / "out" / "pred.csv"
    pred = _cli(["graphs", "graph-classify", "predict", "--ckpt_path", str(ckpts[0]),
                 "--data.predict_edges", str(tmp_path / "new/edges.csv"),
                 "--data.predict_nodes", str(tmp_path / "new/nodes.csv"), "--output", str(out)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "label", "probability"]
    assert [r[0] for r in rows[1:]] == new_ids
    assert {r[1] for r in rows[1:]} <= {"chain", "ring"} and all(0.5 <= float(r[2]) <= 1 for r in rows[1:])
    assert [p.name for p in out.parent.iterdir()] == ["pred.csv"]  # no temporary left behind


def test_bad_input_fails_with_one_line(tmp_path):
    _write_graph_set(tmp_path, 6)
    edges = tmp_path / "edges.csv"
    edges.write_text(edges.read_text() + "mol0_0,ghost\n")
    lines = edges.read_text().count("\n")
    res = _cli(["graphs", "graph-classify", "fit", "--data.edges", str(edges), "--data.nodes",
                str(tmp_path / "nodes.csv"), "--data.labels", str(tmp_path / "labels.csv"),
                "--trainer.max_epochs", "1"], tmp_path)
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("ssmkit: error:")]
    assert len(errors) == 1, res.stderr[-3000:]
    assert f"edges.csv, line {lines}" in errors[0] and "dangling edge" in errors[0] and "'ghost'" in errors[0]


def test_short_fit_on_mutag_beats_the_majority_class(shared_data, tmp_path):
    """MUTAG is 125 mutagenic / 63 not (majority 66.5%): a few epochs reach well above it."""
    pl.seed_everything(0)
    pipe = registry.get("pipelines", "graphs/graph-classify")
    dm, model = pipe.instantiate(
        model={"d_model": 32, "n_layers": 2, "eval_orders": 2, "lr": 1e-2},
        data={"dataset": "graphs/MUTAG", "data_dir": str(shared_data), "cache_dir": str(tmp_path / "cache"),
              "folds": 5, "fold": 0, "batch_size": 16})
    trainer = pl.Trainer(max_epochs=20, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=1.0)
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert dm.source == "real: MUTAG" and dm.classes == ["0", "1"] and len(dm.test_set) in (37, 38)
    assert not (shared_data / "graphs" / "MUTAG" / "processed").exists()  # written in the cache only
    assert list((tmp_path / "cache").rglob("processed"))
    # majority class: 0.665; 38 test graphs, so thread-count noise moves accuracy by 1/38 steps
    assert m["test/acc"] >= 0.75 and m["test/auroc"] > 0.8, m


def test_short_fit_on_esol_beats_the_mean(shared_data, tmp_path):
    """ESOL (1,128 molecules, log solubility): a few epochs of GIN on the RDKit graphs predict the held-out
    molecules far better than their own mean (the RMSE of the best constant is their standard deviation)."""
    import pytest
    import torch

    pytest.importorskip("rdkit", reason="RDKit is the [molecules] extra of ssmkit-graphs (make setup installs it)")
    pl.seed_everything(0)
    pipe = registry.get("pipelines", "graphs/graph-regress")
    dm, model = pipe.instantiate(model={"model": "gin", "d_model": 32, "n_layers": 2, "lr": 3e-3},
                                 data={"dataset": "graphs/ESOL", "data_dir": str(shared_data),
                                       "cache_dir": str(tmp_path / "cache"), "batch_size": 64})
    trainer = pl.Trainer(max_epochs=8, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=1.0)
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    y = torch.cat([b["y"].float() for b in dm.test_dataloader()])
    assert dm.source.startswith("real") and len(y) > 100
    assert not (shared_data / "graphs" / "esol" / "processed").exists()  # written in the cache only
    assert m["test/rmse"] < 0.7 * float(y.std(unbiased=False)), (m, float(y.std()))


def _quick_trainer():
    return pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)


def test_node_classify_and_graph_regress_on_written_files(tmp_path):
    """node-classify on one CSV graph (two communities), graph-regress on a saved Data list; predictions written."""
    import torch
    from torch_geometric.data import Data

    n = 40
    (tmp_path / "nodes.csv").write_text("id,f\n" + "".join(f"v{i},{i % 2}\n" for i in range(n)))
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if (i < n // 2) == (j < n // 2) and (j - i) % 7 == 1]
    (tmp_path / "edges.csv").write_text("src,dst\n" + "".join(f"v{i},v{j}\n" for i, j in edges))
    (tmp_path / "labels.csv").write_text("id,label\n" + "".join(f"v{i},{'a' if i < n // 2 else 'b'}\n"
                                                                 for i in range(0, n, 2)))
    pl.seed_everything(0)
    dm, model = registry.get("pipelines", "graphs/node-classify").instantiate(
        model={"d_model": 8, "n_layers": 2, "eval_orders": 2},
        data={"edges": str(tmp_path / "edges.csv"), "nodes": str(tmp_path / "nodes.csv"),
              "labels": str(tmp_path / "labels.csv")})
    trainer = _quick_trainer()
    trainer.fit(model, datamodule=dm)
    assert dm.classes == ["a", "b"] and int(dm.masks["train"].sum()) == 12  # 60% of the 20 labelled nodes
    rows = [r for batch in trainer.predict(model, datamodule=dm) for r in batch]
    path = dm.write_predictions(rows, tmp_path / "nodes_pred.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "id,label,probability" and len(lines) == n + 1 and lines[1].startswith("v0,")

    torch.manual_seed(0)
    paths = [torch.stack([torch.arange(k - 1), torch.arange(1, k)]) for k in range(3, 23)]  # target: its size
    graphs = [Data(x=torch.randn(len(p[0]) + 1, 3), edge_index=p, y=torch.tensor([len(p[0]) + 1.0])) for p in paths]
    torch.save(graphs, tmp_path / "graphs.pt")
    dm, model = registry.get("pipelines", "graphs/graph-regress").instantiate(
        model={"d_model": 8, "n_layers": 1, "eval_orders": 2},
        data={"data_list": str(tmp_path / "graphs.pt"), "val_fraction": 0.2, "test_fraction": 0.2})
    assert abs(model.hparams.target_mean - 12.5) < 1e-6
    trainer = _quick_trainer()
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert {"test/rmse", "test/mae"} <= set(m)
    rows = [r for batch in trainer.predict(model, datamodule=dm) for r in batch]
    lines = dm.write_predictions(rows, tmp_path / "values.csv").read_text().splitlines()
    assert lines[0] == "id,value" and len(lines) == 1 + len(dm.test_set)


def test_cross_validate_runs_only_the_chosen_folds(tmp_path):
    """only=[1, 3] fits and tests folds 1 and 3 (in that order) of a 4-fold split; an index past the split fails."""
    import pytest
    from ssmkit_graphs.crossval import cross_validate

    _write_graph_set(tmp_path / "set", 24)
    pipe = registry.get("pipelines", "graphs/graph-classify")
    data = {**{k: str(tmp_path / "set" / f"{k}.csv") for k in ("edges", "nodes", "labels")}, "batch_size": 8}
    seen = []
    summary = cross_validate(pipe, {"d_model": 8, "n_layers": 1}, data, folds=4, only=[1, 3],
                             trainer={"max_epochs": 1, "enable_checkpointing": False},
                             on_fold=lambda fold, m: seen.append((fold, m["test/acc"])))
    assert [f for f, _ in seen] == [1, 3]
    mean, _ = summary["test/acc"]
    assert abs(mean - sum(a for _, a in seen) / 2) < 1e-9
    with pytest.raises(ValueError, match=r"\[4\] out of range for 4 folds"):
        cross_validate(pipe, {}, data, folds=4, only=[4])
    for only in ([], [1, 1]):
        with pytest.raises(ValueError, match="distinct fold indices, at least one"):
            cross_validate(pipe, {}, data, folds=4, only=only)


def test_cross_validate_selections_test_other_epochs_of_the_same_fit(tmp_path):
    """"last" tests the final weights (equal to a run without checkpointing, same seed); "min:val/loss" tests a
    saved epoch; with one epoch every rule picks the same weights; a malformed rule fails before any fit."""
    import pytest
    from ssmkit_graphs.crossval import cross_validate

    _write_graph_set(tmp_path / "set", 24)
    pipe = registry.get("pipelines", "graphs/graph-classify")
    data = {**{k: str(tmp_path / "set" / f"{k}.csv") for k in ("edges", "nodes", "labels")}, "batch_size": 8}
    model = {"d_model": 8, "n_layers": 1, "model": "gin", "lr": 0.05}
    three = cross_validate(pipe, model, data, folds=4, only=[0], trainer={"max_epochs": 3},
                           selections=["last", "min:val/loss"])
    plain = cross_validate(pipe, model, data, folds=4, only=[0],
                           trainer={"max_epochs": 3, "enable_checkpointing": False})
    assert three["test/loss[last]"][0] == pytest.approx(plain["test/loss"][0], abs=1e-6)
    assert "test/acc[min:val/loss]" in three
    # the main metric is the pipeline monitor's best epoch, as without selections (testing another rule's
    # checkpoint first restores the callbacks' states from that file; the best file must not be looked up after)
    for seed in range(3):
        data_seed = {**data, "seed": seed}
        long = cross_validate(pipe, model, data_seed, folds=4, only=[1], trainer={"max_epochs": 8}, seed=seed,
                              selections=["max:val/acc", "max:val/auroc"])
        alone = cross_validate(pipe, model, data_seed, folds=4, only=[1], trainer={"max_epochs": 8}, seed=seed)
        assert long["test/loss"][0] == pytest.approx(alone["test/loss"][0], abs=1e-6)
    one = cross_validate(pipe, model, data, folds=4, only=[0], trainer={"max_epochs": 1},
                         selections=["last", "min:val/loss"])
    assert one["test/loss[last]"][0] == pytest.approx(one["test/loss"][0], abs=1e-6)
    assert one["test/loss[min:val/loss]"][0] == pytest.approx(one["test/loss"][0], abs=1e-6)
    # a rule equal to the pipeline's own monitor (val/loss, min) reuses its checkpoint
    same = cross_validate(pipe, model, data, folds=4, only=[0], trainer={"max_epochs": 3}, selections=["min:val/loss"])
    assert same["test/loss[min:val/loss]"][0] == pytest.approx(same["test/loss"][0], abs=1e-6)
    with pytest.raises(ValueError, match="need checkpoints"):
        cross_validate(pipe, model, data, folds=4, only=[0], selections=["max:val/acc"],
                       trainer={"max_epochs": 1, "enable_checkpointing": False})
    with pytest.raises(ValueError, match="selection 'max:val/acc': no checkpoint was saved"):
        cross_validate(pipe, model, data, folds=4, only=[0], selections=["last", "max:val/acc"],
                       trainer={"max_epochs": 1, "limit_val_batches": 0})
    with pytest.raises(ValueError, match="selection 'best'"):
        cross_validate(pipe, model, data, folds=4, selections=["best"])


def test_fit_with_folds_cross_validates_through_the_console_script(tmp_path):
    """`fit --data.folds 3` (no --data.fold) fits every fold, tests each fit's best checkpoint on its own fold and
    reports mean and std; the JSON holds the per-fold figures the mean is made of."""
    import json

    import numpy as np
    from ssmkit_graphs.data import stratified_folds

    _write_graph_set(tmp_path / "set", 25)  # folds of 9, 8 and 8 graphs
    files = [f"--data.{k}={tmp_path / 'set' / f'{k}.csv'}" for k in ("edges", "nodes", "labels")]
    run = _cli(["graphs", "graph-classify", "fit", *files, "--data.folds", "3", "--data.batch_size", "8",
                "--model.model", "gin", "--model.d_model", "8", "--model.n_layers", "1", "--trainer.max_epochs", "2"],
               tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "3-fold cross-validation" in run.stdout and "fold 2 (3 of 3)" in run.stdout
    result = json.loads((tmp_path / "runs" / "graphs-graph-classify" / "cv-3fold.json").read_text())
    accs = [f["test/acc"] for f in result["per_fold"]]
    assert len(accs) == 3 and abs(result["mean_std"]["test/acc"][0] - np.mean(accs)) < 1e-9
    assert abs(result["mean_std"]["test/acc"][1] - np.std(accs)) < 1e-9
    sizes = [len(f) for f in stratified_folds(np.array([g % 2 for g in range(25)]), 25, 3)]
    assert sorted(sizes) == [8, 8, 9]
    assert all(abs(a * n - round(a * n)) < 1e-4 for a, n in zip(accs, sizes))  # each scored on its fold's graphs
    configs = sorted((tmp_path / "runs" / "graphs-graph-classify").rglob("config.yaml"))
    folds = sorted(line.split(":")[1].strip() for c in configs for line in c.read_text().splitlines()
                   if line.strip().startswith("fold:"))
    assert set(folds) == {"0", "1", "2"}  # the fits' and tests' configs name each fold
    assert not list((tmp_path / "runs" / "graphs-graph-classify").glob(".cv-*"))  # no temporary left
    assert result["done"] == 3
    again = _cli(["graphs", "graph-classify", "fit", *files, "--data.folds", "3", "--ckpt_path", "last"], tmp_path)
    assert again.returncode != 0 and "belongs to one fold" in again.stderr.strip().splitlines()[-1]
    # the same from a YAML config (data: {folds: 2}): every fold runs
    (tmp_path / "cv.yaml").write_text("data:\n  folds: 2\n  batch_size: 8\nmodel:\n  model: gin\n  d_model: 8\n"
                                      "  n_layers: 1\ntrainer:\n  max_epochs: 1\n")
    yaml_run = _cli(["graphs", "graph-classify", "fit", "--config", str(tmp_path / "cv.yaml"), *files], tmp_path)
    assert yaml_run.returncode == 0, yaml_run.stderr[-3000:]
    assert "2-fold cross-validation" in yaml_run.stdout and "fold 1 (2 of 2)" in yaml_run.stdout


def test_laplacian_positional_encoding_holds_eigenvectors_of_each_graph(tmp_path):
    """--data.pe lap: every column of a graph's encoding is an eigenvector of its symmetric normalised Laplacian
    (checked in float64); graphs too small for k eigenvectors get zero columns."""
    import numpy as np
    from ssmkit_graphs.data import GraphDataModule

    _write_graph_set(tmp_path / "set", 10)
    dm = GraphDataModule(**{k: str(tmp_path / "set" / f"{k}.csv") for k in ("edges", "nodes", "labels")},
                         pe="lap", pe_dim=3, cache_dir=str(tmp_path / "cache"), batch_size=4)
    dm.setup("fit")
    assert dm.pe_dim == 3
    graphs = [dm.train_set[i] for i in range(len(dm.train_set))]
    checked = 0
    for g in graphs:
        n = g.num_nodes
        assert g.pe.shape == (n, 3)
        if n <= 4:
            assert not g.pe.any()
            continue
        a = np.zeros((n, n))
        a[g.edge_index[0].numpy(), g.edge_index[1].numpy()] = 1.0
        d = a.sum(1)
        lap = np.eye(n) - a / np.sqrt(np.outer(d, d))
        for v in g.pe.double().numpy().T:
            lam = v @ lap @ v / (v @ v)
            assert np.abs(lap @ v - lam * v).max() < 1e-4
        checked += 1
    assert checked >= 3
