"""Embeddings from a trained genomics checkpoint (``classify`` or ``pretrain``): one vector per
sequence or per position, written to ``.npy`` with the ids beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssmkit.atomic import atomic_write
from ssmkit.data import DataModule
from ssmkit.errors import ConfigError, DataError, SSMKitError
from ssmkit.tasks import Task

from .data import LOWERCASE, TokenSet
from .model import DNANet
from .readers import encode_records, read_records, softmasks


def load_checkpoint(path: str | Path) -> dict:
    """A Lightning checkpoint read with ``weights_only=True``; a clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DataError("checkpoint not found", path=path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise DataError(f"not a readable checkpoint ({type(exc).__name__}: {exc})", path=path) from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise DataError("not a Lightning checkpoint (no state_dict / hyper_parameters)", path=path)
    return ckpt


def load_dna_net(path: str | Path) -> tuple[DNANet, dict]:
    """The DNANet of a ``genomics classify`` or ``genomics pretrain`` checkpoint, weights loaded, and
    its kind: {"kind": "classify" | "pretrain", "hparams": ...}."""
    ckpt = load_checkpoint(path)
    hp, state = dict(ckpt["hyper_parameters"]), ckpt["state_dict"]
    try:
        if "net.net.embed.weight" in state:  # DNAClassifier: net (DNAClassifierNet) -> net (DNANet)
            kind, prefix = "classify", "net.net."
            options = dict(d_model=hp["d_model"], n_layers=hp["n_layers"], d_state=hp["d_state"],
                           bidirectional=hp["bidirectional"], rc=hp["rc"], mixer=hp["mixer"],
                           stem=hp.get("stem", 0), d_intermediate=hp.get("d_intermediate", 0),
                           softmask=hp.get("softmask", False))
        elif "net.embed.weight" in state:  # DNALanguageModel: net (DNANet)
            kind, prefix = "pretrain", "net."
            options = dict(d_model=hp["d_model"], n_layers=hp["n_layers"], d_state=hp["d_state"],
                           bidirectional=False, rc="none", mixer=hp["mixer"],
                           d_intermediate=hp.get("d_intermediate", 0))
        else:
            raise DataError("not a genomics classify or pretrain checkpoint (no DNA network inside)", path=path)
        net = DNANet(**options, dropout=0.0)
        net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    except (KeyError, RuntimeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise DataError(f"the checkpoint's weights do not match its hyper-parameters ({detail})", path=path) from exc
    return net, {"kind": kind, "hparams": hp, "options": options}


class DNAEmbedder(Task):
    """Features of a trained DNANet. Batches as in ``classify`` ({"x", "mask", "index"}).

    Args:
        checkpoint: a ``genomics classify`` or ``genomics pretrain`` checkpoint.
        per_position: one vector per position (n, length, d) instead of per sequence (n, d).
        pool: how positions become one vector: "mean" (over real positions), "max", "first", "last".
            For a reverse-complement-equivariant network the sequence vector averages the two strands'
            halves, so a sequence and its reverse complement get the same vector.
    """

    def __init__(self, checkpoint: str, per_position: bool = False, pool: str = "mean"):
        super().__init__()
        self.save_hyperparameters()
        self.net, self.source = load_dna_net(checkpoint)

    def model_inputs(self, batch: dict) -> dict:
        inputs = super().model_inputs(batch)
        if "softmask" in batch and self.net.softmask_embed is None:
            raise DataError("--data.lowercase mask: the checkpoint's network was not trained with soft-mask "
                            "positions (a classify checkpoint fitted with --data.lowercase mask is)",
                            path=self.hparams.checkpoint)
        if self.net.softmask_embed is not None:
            if "softmask" not in batch:
                raise DataError("the network was trained with soft-mask positions: give --data.lowercase mask",
                                path=self.hparams.checkpoint)
            inputs["softmask"] = batch["softmask"]
        return inputs

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                softmask: torch.Tensor | None = None) -> torch.Tensor:
        from ssmkit.heads import pool as pool_positions

        mask = x != 0 if mask is None else mask
        features = self.net(x, mask, softmask).float()
        if self.hparams.per_position:
            return features * mask.unsqueeze(-1)
        pooled = pool_positions(features, self.hparams.pool, mask)
        if self.net.rc == "equivariant":
            d = self.net.d_model
            pooled = 0.5 * (pooled[:, :d] + pooled[:, d:])
        return pooled

    def training_step(self, batch: dict, batch_idx: int):
        raise SSMKitError("`genomics embed` does not train: run `ssmkit genomics embed predict "
                          "--model.checkpoint CKPT --data.path FILE`")

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        return [{"index": int(i), "vector": v.cpu().numpy()} for i, v in zip(batch["index"], out)]


class SequenceDataModule(DataModule):
    """Unlabelled sequences to embed: ``path`` (FASTA/FASTQ/GenBank, gzipped or not, or a BED file of
    intervals cut from ``reference``).

    length: tokens per sequence (longer ones are centre-cropped, shorter ones padded); default the
    longest. Output: ``embeddings.npy`` (n, d) or (n, length, d) with zeros past each sequence's end,
    and ``<name>.ids.tsv`` beside it (row, id, length).
    """

    prediction_file = "embeddings.npy"

    def __init__(self, path: str, length: int | None = None, lowercase: str = "upper", batch_size: int = 32,
                 num_workers: int = 0, reference: str | None = None):
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.path, self.length_arg, self.lowercase, self.reference = path, length, lowercase, reference
        if lowercase not in LOWERCASE:
            raise ConfigError(f"--data.lowercase {lowercase!r}: use one of {', '.join(LOWERCASE)}")

    def setup(self, stage: str | None = None) -> None:
        self.records = read_records(self.path, duplicates="rename", reference=self.reference)
        self.source = f"real: {Path(self.path).name}"
        seqs = encode_records(self.records, self.lowercase)
        self.length = self.length_arg or max(len(s) for s in seqs)
        soft = softmasks(self.records) if self.lowercase == "mask" else None
        self.predict_set = TokenSet(seqs, None, np.arange(len(seqs)), self.length, softmasks=soft)

    def write_predictions(self, rows: list[dict[str, Any]], path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npy":
            raise DataError("embeddings are written as NumPy arrays: give --output NAME.npy", path=path)
        rows = sorted(rows, key=lambda r: r["index"])
        array = np.stack([r["vector"] for r in rows]).astype(np.float32)
        ids_path = path.with_suffix(".ids.tsv")
        with atomic_write(path, "wb") as handle:
            np.save(handle, array)
        with atomic_write(ids_path, "w") as handle:
            handle.write("row\tid\tlength\n")
            for n, r in enumerate(rows):
                rec = self.records[r["index"]]
                handle.write(f"{n}\t{rec.id}\t{min(len(rec.seq), self.length)}\n")
        self.written = [path, ids_path]
        return path


__all__ = ["DNAEmbedder", "SequenceDataModule", "load_checkpoint", "load_dna_net"]
