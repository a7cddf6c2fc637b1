"""The classify pipeline end to end: a short fit on the real E. coli promoters against a k-mer logistic
regression, and fit/test/predict (and bad input) through the console script."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_matthews_corrcoef

from ssmkit import registry

BIN = Path(sys.executable).parent
SSMKIT = shutil.which("ssmkit", path=str(BIN)) or shutil.which("ssmkit")


def _cli(args, cwd):
    return subprocess.run([SSMKIT, *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True,
                          timeout=600)


# ------------------------------------------------------------------------------------------ real data


def kmer_features(seqs: list[np.ndarray], ks=(3, 4)) -> torch.Tensor:
    """Normalised counts of every k-mer over ACGT (k-mers with N skipped), concatenated over ks."""
    rows = []
    for s in seqs:
        base = np.asarray(s, dtype=np.int64) - 1  # A,C,G,T -> 0..3; N (4) and PAD (-1) invalid
        valid = (base >= 0) & (base < 4)
        row = []
        for k in ks:
            n = max(0, len(base) - k + 1)
            code, ok = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
            for j in range(k):
                code = code * 4 + np.where(valid[j:j + n], base[j:j + n], 0)
                ok &= valid[j:j + n]
            row.append(np.bincount(code[ok], minlength=4 ** k) / max(1, n))
        rows.append(np.concatenate(row))
    return torch.tensor(np.array(rows), dtype=torch.float64)


def kmer_logistic_mcc(seqs, y, train, test, l2: float = 1e-2) -> float:
    """MCC on ``test`` of an L2-regularised logistic regression on standardised k-mer counts (LBFGS)."""
    x = kmer_features(seqs)
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-8
    x = (x - mu) / sd
    target = torch.as_tensor(y, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x[train] @ w + b, target[train]) + l2 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (x[test] @ w + b > 0).long()
    return float(binary_matthews_corrcoef(pred, torch.as_tensor(y[test])))


@pytest.mark.slow  # minutes on a CPU (passes since the stem + position-aware head defaults)
def test_short_fit_on_ecoli_promoters_beats_kmer_logistic_regression(shared_data):
    pl.seed_everything(0)
    pipe = registry.get("pipelines", "genomics/classify")
    dm, model = pipe.instantiate(
        model={"d_model": 32, "n_layers": 2, "lr": 5e-3},
        data={"dataset": "genomics/promoters_ecoli", "data_dir": str(shared_data), "batch_size": 32})
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=1.0)
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert dm.source == "real: promoters_ecoli" and dm.classes == ["non_promoter", "promoter"]
    train, test = dm.train_set.index, dm.test_set.index
    assert len(test) == round(0.2 * 839) + round(0.2 * 3000) and not set(train) & set(test)
    baseline = kmer_logistic_mcc(dm.train_set.seqs, dm.train_set.y, train, test)
    assert 0.55 < baseline < 0.8  # the k-mer rival is a real one
    assert m["test/mcc"] > baseline, (m, baseline)
    assert m["test/sensitivity"] > 0.6 and m["test/specificity"] > 0.9, m


# ------------------------------------------------------------------------------------------ console script

MOTIF = "TTGACA" + "A" * 5 + "TATAAT"


def _random_seq(rng, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


def _write_fasta(path: Path, n: int, seed: int, labels: bool = True) -> tuple[Path, list[str], list[str]]:
    """Sequences of 30..60 nt; "pos" ones carry a promoter-like motif, "neg" ones do not."""
    rng = np.random.default_rng(seed)
    ids, labs, lines = [], [], []
    for i in range(n):
        lab = "pos" if i % 2 else "neg"
        seq = _random_seq(rng, int(rng.integers(30, 61)))
        if lab == "pos":
            at = int(rng.integers(0, len(seq) - len(MOTIF)))
            seq = seq[:at] + MOTIF + seq[at + len(MOTIF):]
        rid = f"s{seed}_{i}"
        ids.append(rid)
        labs.append(lab)
        lines += [f">{rid} synthetic {lab}", seq[:25], seq[25:]]
    path.write_text("\n".join(lines) + "\n")
    return path, ids, labs


def _write_labels(path: Path, ids: list[str], labels: list[str]) -> Path:
    with open(path, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["id", "label"])
        w.writerows(zip(ids, labels))
    return path


def test_fit_test_predict_through_the_console_script(tmp_path):
    assert SSMKIT, "the ssmkit console script is not installed"
    fasta, ids, labels = _write_fasta(tmp_path / "train.fa", 60, seed=0)
    table = _write_labels(tmp_path / "labels.csv", ids, labels)
    new, new_ids, _ = _write_fasta(tmp_path / "new.fasta", 7, seed=1)
    common = ["--model.d_model", "8", "--model.n_layers", "1", "--data.path", str(fasta), "--data.label_csv",
              str(table), "--data.batch_size", "16"]
    fit = _cli(["genomics", "classify", "fit", "--trainer.max_epochs", "1", *common], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "val/mcc" in fit.stdout and "data: real: train.fa" in fit.stdout, fit.stdout[-2000:]
    ckpts = sorted((tmp_path / "runs" / "genomics-classify").rglob("last.ckpt"))
    assert len(ckpts) == 1, fit.stdout[-2000:]
    config = (ckpts[0].parent.parent / "config.yaml").read_text()
    assert "d_model: 8" in config and str(table) in config

    test = _cli(["genomics", "classify", "test", "--ckpt_path", str(ckpts[0]), "--model.head_dropout", "0.25"],
                tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    # the run's config rebuilds the model, and a flag given after --ckpt_path still wins over it
    test_config = (tmp_path / "runs" / "genomics-classify" / "lightning_logs" / "version_1" / "config.yaml").read_text()
    assert "head_dropout: 0.25" in test_config and "d_model: 8" in test_config
    assert all(name in test.stdout for name in ("test/acc", "test/mcc", "test/sensitivity", "test/specificity"))

    runs = tmp_path / "runs" / "genomics-classify" / "lightning_logs"
    versions = sorted(p.name for p in runs.iterdir())
    out = tmp_path / "out" / "pred.tsv"
    pred = _cli(["genomics", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(new),
                 "--output", str(out)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["id", "label", "probability"]
    assert [r[0] for r in rows[1:]] == new_ids  # one row per record, in file order
    assert {r[1] for r in rows[1:]} <= {"neg", "pos"}
    assert all(0.5 <= float(r[2]) <= 1.0 for r in rows[1:])
    assert [p.name for p in out.parent.iterdir()] == ["pred.tsv"]  # no temporary left behind
    assert sorted(p.name for p in runs.iterdir()) == versions  # --output given: no new run folder

    # classes, their counts and the length come from the checkpoint: no training data needed to predict
    fasta.rename(tmp_path / "gone.fa")
    table.rename(tmp_path / "gone.csv")
    again = tmp_path / "again.tsv"
    pred = _cli(["genomics", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(new),
                 "--output", str(again)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    with open(again, newline="") as handle:
        assert list(csv.reader(handle, delimiter="\t")) == rows
    # a .csv name gets commas (the same rows), not tab-separated text under a .csv name
    as_csv = tmp_path / "again.csv"
    pred = _cli(["genomics", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(new),
                 "--output", str(as_csv)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    assert "\t" not in as_csv.read_text()
    with open(as_csv, newline="") as handle:
        assert list(csv.reader(handle)) == rows


def _one_error_line(res, name: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("ssmkit: error:")]
    assert len(errors) == 1 and name in errors[0], res.stderr[-3000:]
    return errors[0]


def test_bad_inputs_fail_with_one_line(tmp_path):
    empty = tmp_path / "empty_record.fa"
    empty.write_text(">a\nACGTACGT\n>b\n>c\nGGCCTTAA\n")
    table = _write_labels(tmp_path / "labels.csv", ["a", "b", "c"], ["pos", "neg", "pos"])
    res = _cli(["genomics", "classify", "fit", "--data.path", str(empty), "--data.label_csv", str(table),
                "--trainer.max_epochs", "1"], tmp_path)
    line = _one_error_line(res, "empty_record.fa")
    assert "'b'" in line and "empty sequence" in line and "line 3" in line

    fasta, ids, labels = _write_fasta(tmp_path / "ok.fa", 6, seed=2)
    stray = _write_labels(tmp_path / "stray.csv", [*ids, "ghost"], [*labels, "pos"])
    res = _cli(["genomics", "classify", "fit", "--data.path", str(fasta), "--data.label_csv", str(stray),
                "--trainer.max_epochs", "1"], tmp_path)
    line = _one_error_line(res, "stray.csv")
    assert "'ghost'" in line and "line 8" in line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.ckpt"))


# ------------------------------------------------------------------------------------------ BED intervals

_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


def _write_genome(tmp_path: Path, seed: int = 3):
    """A two-chromosome reference; "pos" intervals hold the motif (on the '-' strand as its reverse
    complement in the reference), "neg" ones lie elsewhere. -> (reference, {class: BED}, {name: expected seq})."""
    rng = np.random.default_rng(seed)
    chroms = {"chrA": list(_random_seq(rng, 3000)), "chrB": list(_random_seq(rng, 2000))}
    beds, expected = {"pos": [], "neg": []}, {}
    for i in range(40):
        chrom = "chrA" if i % 3 else "chrB"
        start = 60 * (i // 2) + (0 if i % 2 else 30) + (0 if chrom == "chrA" else 5)
        end, strand = start + 28, "-" if i % 4 == 1 else "+"
        lab = "pos" if i % 2 else "neg"
        if lab == "pos":
            piece = MOTIF if strand == "+" else MOTIF.translate(_COMPLEMENT)[::-1]
            chroms[chrom][start + 5:start + 5 + len(MOTIF)] = list(piece)
        beds[lab].append((chrom, start, end, f"{lab}{i}", strand))
    for rows in beds.values():
        for chrom, start, end, name, strand in rows:
            seq = "".join(chroms[chrom][start:end])
            expected[name] = seq if strand == "+" else seq.translate(_COMPLEMENT)[::-1]
    ref = tmp_path / "genome.fa"
    ref.write_text("".join(f">{c} test\n" + "\n".join("".join(s[i:i + 60]) for i in range(0, len(s), 60)) + "\n"
                           for c, s in chroms.items()))
    files = {}
    for lab, rows in beds.items():
        files[lab] = tmp_path / f"{lab}.bed"
        files[lab].write_text("track name=test\n" + "".join(f"{c}\t{a}\t{b}\t{n}\t0\t{s}\n" for c, a, b, n, s in rows))
    return ref, files, expected


def test_bed_intervals_through_the_data_module_and_console_script(tmp_path):
    from ssmkit_genomics.data import DNAClassDataModule
    from ssmkit_genomics.readers import read_records

    ref, files, expected = _write_genome(tmp_path)
    # every interval's sequence equals the reference slice, reverse-complemented on '-' (string arithmetic)
    dm = DNAClassDataModule(files={k: str(v) for k, v in files.items()}, reference=str(ref), batch_size=8)
    dm.setup("fit")
    got = {r.id: r.seq for r in dm._records}
    assert got == expected and dm.classes == ["neg", "pos"] and dm.max_length == 28
    assert all(MOTIF in got[name] for name in expected if name.startswith("pos"))
    assert [r.id for r in read_records(files["neg"], reference=ref)] == [n for n in expected if n.startswith("neg")]

    fit = _cli(["genomics", "classify", "fit", "--trainer.max_epochs", "1", "--model.d_model", "8",
                "--model.n_layers", "1", "--data.files", f"{{pos: {files['pos']}, neg: {files['neg']}}}",
                "--data.reference", str(ref), "--data.batch_size", "8"], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    ckpt = next((tmp_path / "runs" / "genomics-classify").rglob("last.ckpt"))
    out = tmp_path / "pred.tsv"
    pred = _cli(["genomics", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path",
                 str(files["pos"]), "--data.reference", str(ref), "--output", str(out)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert [r[0] for r in rows[1:]] == [n for n in expected if n.startswith("pos")]  # BED order, interval names

    # the reference is part of the run's config: predict finds it without the flag
    again = tmp_path / "again.tsv"
    pred = _cli(["genomics", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path",
                 str(files["pos"]), "--output", str(again)], tmp_path)
    assert pred.returncode == 0 and again.read_text() == out.read_text(), pred.stderr[-3000:]

    # a BED file without a reference, or an interval past a chromosome's end: one line naming the file
    res = _cli(["genomics", "classify", "fit", "--trainer.max_epochs", "1", "--data.path", str(files["pos"]),
                "--data.label_csv", str(tmp_path / "x.csv")], tmp_path)
    assert "--data.reference" in _one_error_line(res, "pos.bed")
    bad = tmp_path / "bad.bed"
    bad.write_text("chrB\t1990\t2010\tover\n")
    res = _cli(["genomics", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path", str(bad),
                "--data.reference", str(ref), "--output", str(tmp_path / "y.tsv")], tmp_path)
    line = _one_error_line(res, "bad.bed")
    assert "'over'" in line and "beyond the end" in line and "line 1" in line
    assert not (tmp_path / "y.tsv").exists()


# ------------------------------------------------------------------------------------------ soft-masked bases


def _write_softmasked(path: Path, n: int, seed: int) -> tuple[Path, dict[str, str]]:
    """Sequences of 40..70 nt with lowercase (soft-masked) runs; "pos" ones carry the motif."""
    rng = np.random.default_rng(seed)
    seqs = {}
    for i in range(n):
        seq = list(_random_seq(rng, int(rng.integers(40, 71))))
        if i % 2:
            at = int(rng.integers(0, len(seq) - len(MOTIF)))
            seq[at:at + len(MOTIF)] = MOTIF
        a = int(rng.integers(0, len(seq) - 10))
        seq[a:a + 10] = [c.lower() for c in seq[a:a + 10]]
        seqs[f"{'pos' if i % 2 else 'neg'}{i}"] = "".join(seq)
    path.write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    return path, seqs


def test_softmask_items_follow_crops_and_strands(tmp_path):
    from ssmkit_genomics.alphabet import decode
    from ssmkit_genomics.data import DNAClassDataModule

    fasta, seqs = _write_softmasked(tmp_path / "soft.fa", 30, seed=5)
    table = _write_labels(tmp_path / "labels.csv", list(seqs), [k[:3] for k in seqs])
    dm = DNAClassDataModule(path=str(fasta), label_csv=str(table), lowercase="mask", length=56, rc_augment=True,
                            val_fraction=0.2, test_fraction=0.2)  # 40..70 nt: some cropped, some padded
    dm.setup("fit")
    assert dm.softmask
    ids = list(seqs)
    strands, padded = set(), False
    for ds in (dm.train_set, dm.test_set):
        for i in range(len(ds)):
            item = ds[i]
            text = seqs[ids[item["index"]]]
            real = int(item["mask"].sum())
            assert not item["softmask"][real:].any()  # padding is never soft-masked
            read = decode(item["x"][:real])
            # locate the window on either strand, then compare the mask with the case of the letters
            rc = text.translate(_COMPLEMENT)[::-1]
            strand, src = ("+", text) if read in text.upper() else ("-", rc)
            at = src.upper().index(read)
            assert item["softmask"][:real].tolist() == [c.islower() for c in src[at:at + len(read)]]
            strands.add(strand)
            padded |= real < 56
    assert strands == {"+", "-"} and padded  # rc_augment read both strands; some items were padded
    with pytest.raises(Exception, match="lowercase 'maybe'"):
        DNAClassDataModule(path=str(fasta), label_csv=str(table), lowercase="maybe")


def test_softmask_through_the_console_script(tmp_path):
    fasta, seqs = _write_softmasked(tmp_path / "soft.fa", 40, seed=6)
    table = _write_labels(tmp_path / "labels.csv", list(seqs), [k[:3] for k in seqs])
    fit = _cli(["genomics", "classify", "fit", "--trainer.max_epochs", "1", "--model.d_model", "8",
                "--model.n_layers", "1", "--data.path", str(fasta), "--data.label_csv", str(table),
                "--data.lowercase", "mask", "--data.batch_size", "8"], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    ckpt = next((tmp_path / "runs" / "genomics-classify").rglob("last.ckpt"))
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["hyper_parameters"]["softmask"] is True and "net.net.softmask_embed" in state["state_dict"]
    emb = tmp_path / "emb.npy"
    res = _cli(["genomics", "embed", "predict", "--model.checkpoint", str(ckpt), "--data.path", str(fasta),
                "--data.lowercase", "mask", "--output", str(emb)], tmp_path)
    assert res.returncode == 0 and np.load(emb).shape == (40, 8), res.stderr[-3000:]
    res = _cli(["genomics", "embed", "predict", "--model.checkpoint", str(ckpt), "--data.path", str(fasta),
                "--output", str(tmp_path / "plain.npy")], tmp_path)
    assert "soft-mask positions: give --data.lowercase mask" in _one_error_line(res, ckpt.name)
    assert not (tmp_path / "plain.npy").exists()
    res = _cli(["genomics", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path", str(fasta),
                "--data.lowercase", "upper", "--output", str(tmp_path / "p.tsv")], tmp_path)
    assert "with soft-mask positions: give --data.lowercase mask" in _one_error_line(res, ckpt.name)
    res = _cli(["genomics", "embed", "predict", "--model.checkpoint", str(ckpt), "--data.path", str(fasta),
                "--data.lowercase", "maybe", "--output", str(tmp_path / "q.npy")], tmp_path)
    assert "'maybe'" in _one_error_line(res, "--data.lowercase")
