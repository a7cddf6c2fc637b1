"""Pretraining (next nucleotide, chunked with a carried state), embeddings, and fine-tuning from a
pretrained network: against whole-window references and known answers, and through the console script."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ssmkit_genomics.alphabet import encode, reverse_complement
from ssmkit_genomics.embed import load_dna_net
from ssmkit_genomics.pretrain import DNALanguageModel, FastaLMDataModule, cut_windows
from ssmkit_genomics.task import DNAClassifier

SSMKIT = shutil.which("ssmkit", path=str(Path(sys.executable).parent)) or shutil.which("ssmkit")


def _cli(args, cwd):
    return subprocess.run([SSMKIT, *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True,
                          timeout=600)


def test_windows_cover_each_stream_once():
    # windows overlap by one token: every base but a stream's first is a target exactly once
    assert cut_windows([10, 1, 5], 4) == [(0, 0, 4), (0, 3, 7), (0, 6, 10), (2, 0, 4), (2, 3, 5)]
    spans = cut_windows([1000, 37], 64)
    targets = [t for s, a, b in spans if s == 0 for t in range(a + 1, b)]
    assert sorted(targets) == list(range(1, 1000)) and all(b - a <= 64 for _, a, b in spans)


@pytest.mark.parametrize("mixer", ["mamba", "mamba2"])
def test_chunked_window_loss_equals_whole_window(mixer):
    """The chunked NLL (state carried between pieces) is the whole window's NLL, computed independently
    here from one forward and a float64 log-softmax."""
    torch.manual_seed(0)
    model = DNALanguageModel(d_model=16, n_layers=2, d_state=8, mixer=mixer, chunk=7).double()
    x = torch.randint(1, 6, (3, 40))  # A C G T N
    x[2, 30:] = 0  # a short last window
    total, count = model.window_nll(x)
    with torch.no_grad():
        logp = model.logits(x[:, :-1]).double().log_softmax(-1)
    target = x[:, 1:]
    keep = (target >= 1) & (target <= 4)
    expected = -(logp.gather(-1, target.unsqueeze(-1)).squeeze(-1) * keep).sum()
    assert int(count) == int(keep.sum())
    torch.testing.assert_close(total.double(), expected, rtol=1e-9, atol=1e-9)


def test_position_split_for_few_long_records(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "chr.fa"
    path.write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 1000)) + "\n>chr2\n"
                    + "".join(rng.choice(list("ACGT"), 500)) + "\n")
    dm = FastaLMDataModule(path=str(path), context=64, val_fraction=0.1, test_fraction=0.2)
    dm.setup("fit")
    assert dm.tokens == {"train": 699 + 349, "validation": 99 + 49, "test": 199 + 99}  # targets per split
    assert dm.source == "real: chr.fa"


def _periodic_fasta(path: Path, n: int, seed: int) -> Path:
    """Records that repeat an 8-nt unit with 2% random substitutions: ~0.2 bits/base is learnable."""
    rng = np.random.default_rng(seed)
    unit = np.array(list("ACGTTGCA"))
    lines = []
    for i in range(n):
        s = np.tile(np.roll(unit, i), 12)
        flip = rng.random(len(s)) < 0.02
        s[flip] = rng.choice(list("ACGT"), flip.sum())
        lines += [f">r{i}", "".join(s)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.skipif(SSMKIT is None, reason="the ssmkit console script is not installed")
def test_pretrain_embed_and_finetune_through_the_console_script(tmp_path):
    fasta = _periodic_fasta(tmp_path / "reads.fa", 60, seed=0)
    fit = _cli(["genomics", "pretrain", "fit", "--data.path", str(fasta), "--data.context", "96",
                "--model.chunk", "32", "--model.d_model", "16", "--model.n_layers", "1", "--model.lr", "1e-2",
                "--trainer.max_epochs", "6", "--data.batch_size", "8"], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    ckpt = sorted((tmp_path / "runs" / "genomics-pretrain").rglob("last.ckpt"))[0]
    test = _cli(["genomics", "pretrain", "test", "--ckpt_path", str(ckpt)], tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    line = next(row for row in test.stdout.splitlines() if "bits per base" in row)
    bits = float(line.split("│")[2])
    assert bits < 1.0, test.stdout[-2000:]  # a uniform model needs 2 bits; the period makes it predictable

    scores = tmp_path / "bits.tsv"
    pred = _cli(["genomics", "pretrain", "predict", "--ckpt_path", str(ckpt), "--output", str(scores)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    rows = [r.split("\t") for r in scores.read_text().splitlines()]
    assert rows[0] == ["id", "bases", "bits_per_base"] and len(rows) == 61
    assert all(int(r[1]) == 95 and 0 <= float(r[2]) < 2 for r in rows[1:])
    # without --output: predictions.tsv in the run folder (tab-separated under a name that says so)
    pred = _cli(["genomics", "pretrain", "predict", "--ckpt_path", str(ckpt)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    (default,) = (tmp_path / "runs" / "genomics-pretrain").rglob("predictions.tsv")
    assert default.read_text() == scores.read_text()

    emb = tmp_path / "emb.npy"
    res = _cli(["genomics", "embed", "predict", "--model.checkpoint", str(ckpt), "--data.path", str(fasta),
                "--output", str(emb)], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    vectors = np.load(emb)
    assert vectors.shape == (60, 16) and np.isfinite(vectors).all()
    ids = emb.with_suffix(".ids.tsv").read_text().splitlines()
    assert ids[0] == "row\tid\tlength" and ids[1] == "0\tr0\t96" and len(ids) == 61

    # fine-tuning through the console script: the checkpoint records the network it holds, so embed reads it
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n" + "".join(f"r{i},{'a' if i % 2 else 'b'}\n" for i in range(60)))
    tune = _cli(["genomics", "classify", "fit", "--data.path", str(fasta), "--data.label_csv", str(labels),
                 "--model.init_from", str(ckpt), "--trainer.max_epochs", "1", "--data.batch_size", "16"], tmp_path)
    assert tune.returncode == 0, tune.stderr[-3000:]
    tuned = sorted((tmp_path / "runs" / "genomics-classify").rglob("last.ckpt"))[0]
    res = _cli(["genomics", "embed", "predict", "--model.checkpoint", str(tuned), "--data.path", str(fasta),
                "--output", str(tmp_path / "tuned.npy")], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert np.load(tmp_path / "tuned.npy").shape == (60, 16)

    # fine-tuning: the classifier starts from the pretrained embedding and backbone, weights equal
    net, info = load_dna_net(ckpt)
    clf = DNAClassifier(num_classes=2, init_from=str(ckpt), length=96, d_model=999)
    assert info["kind"] == "pretrain" and clf.hparams.d_model == 16 and clf.hparams.bidirectional is False
    for k, v in net.state_dict().items():
        torch.testing.assert_close(clf.net.net.state_dict()[k], v)


def test_embeddings_of_an_equivariant_classifier_ignore_the_strand(tmp_path):
    torch.manual_seed(0)
    clf = DNAClassifier(num_classes=2, d_model=16, n_layers=1, length=40)
    path = tmp_path / "clf.ckpt"
    torch.save({"state_dict": clf.state_dict(), "hyper_parameters": dict(clf.hparams)}, path)
    from ssmkit_genomics.embed import DNAEmbedder

    emb = DNAEmbedder(str(path)).eval()
    x = torch.from_numpy(encode("ACGTTTGACAATTATAATCGGCGATCGATCGATCCAGTA").astype(np.int64))
    rc = torch.from_numpy(reverse_complement(x.numpy()).astype(np.int64))
    with torch.no_grad():
        a, b = emb(x.unsqueeze(0)), emb(rc.unsqueeze(0))
    assert a.shape == (1, 16) and not torch.allclose(a, torch.zeros_like(a))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_bad_checkpoints_fail_with_one_line(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    res = _cli(["genomics", "embed", "predict", "--model.checkpoint", str(junk), "--data.path", str(junk)], tmp_path)
    errors = [line for line in res.stderr.splitlines() if line.startswith("ssmkit: error:")]
    assert res.returncode == 2 and len(errors) == 1 and "junk.ckpt" in errors[0], res.stderr[-2000:]
    assert "Traceback" not in res.stderr
