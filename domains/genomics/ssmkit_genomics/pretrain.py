"""Next-nucleotide pretraining on any FASTA: windows of ``context`` tokens, a causal SSM, bits per base.

Large plain FASTA files are never held in memory: they are read through a samtools-style ``.fai`` index
(``fasta_index``), each window's bases fetched with one positioned read when the loader asks for it; windows
are numbered arithmetically (``Spans``), so memory follows the number of records, not of bases.

Long contexts train chunk by chunk: the window is cut into ``chunk``-token pieces that run one after
the other with the SSM state carried between them (its graph cut there), so activation memory follows
the chunk, not the context, while every position still sees the whole window before it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchmetrics import MeanMetric, MetricCollection

from ssmkit.backbone import Backbone
from ssmkit.data import DataModule, dataset_root, split_indices
from ssmkit.errors import ConfigError, DataError
from ssmkit.tasks import Task

from .alphabet import VOCAB_SIZE
from .model import DNANet
from .readers import encode_records, read_records

BASES = (1, 2, 3, 4)  # A, C, G, T: the targets bits per base is measured on
INDEX_MODES = ("auto", "always", "never")
INDEX_MIN_BYTES = 64 << 20  # index="auto": plain FASTA files from this size are read through a .fai


class ArrayStore:
    """Sequences held in memory as token arrays (small files): ``lengths`` (n,), ``read(k, a, b)``, ``id(k)``;
    the same interface as ``fasta_index.FastaIndex``, which reads from the file instead."""

    def __init__(self, ids: list[str], seqs: list[np.ndarray]):
        self.ids, self.seqs = ids, seqs
        self.lengths = np.array([len(s) for s in seqs], dtype=np.int64)

    def read(self, k: int, a: int, b: int) -> np.ndarray:
        return self.seqs[k][a:b]

    def id(self, k: int) -> str:
        return self.ids[k]


class ConcatStore:
    """Several stores end to end (one per input file): sequence k is sequence k - first[j] of store j."""

    def __init__(self, stores: list):
        self.stores = stores
        self.first = np.cumsum([0] + [len(s.lengths) for s in stores])
        self.lengths = np.concatenate([s.lengths for s in stores]) if stores else np.zeros(0, np.int64)

    def _at(self, k: int):
        j = int(np.searchsorted(self.first, k, side="right")) - 1
        return self.stores[j], k - int(self.first[j])

    def read(self, k: int, a: int, b: int) -> np.ndarray:
        store, i = self._at(k)
        return store.read(i, a, b)

    def id(self, k: int) -> str:
        store, i = self._at(k)
        return store.id(i)


class Spans:
    """The (stream, start, end) windows of ``cut_windows``, computed on demand from the stream lengths: memory
    follows the number of streams, not of windows."""

    def __init__(self, lengths, context: int):
        self.lengths, self.context, self.step = np.asarray(lengths, dtype=np.int64), context, context - 1
        counts = -(-np.maximum(self.lengths - 1, 0) // self.step)  # ceil((n - 1) / step) windows per stream
        self.first = np.concatenate([[0], np.cumsum(counts)])

    def __len__(self) -> int:
        return int(self.first[-1])

    def __getitem__(self, i: int) -> tuple[int, int, int]:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"window {i} of {len(self)}")
        s = int(np.searchsorted(self.first, i, side="right")) - 1
        a = (i - int(self.first[s])) * self.step
        return s, a, min(a + self.context, int(self.lengths[s]))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def targets(self) -> int:
        """Bases scored: every base after a stream's first."""
        return int(np.maximum(self.lengths - 1, 0).sum())


class Windows(Dataset):
    """Items {"x": (context,) ids, "index"}: window i is (stream s, start a, end b) of ``spans``; stream s is
    bases [streams[s, 1], streams[s, 2]) of sequence streams[s, 0] of ``store`` (an ``ArrayStore`` or a
    ``FastaIndex``, read only when the item is asked for). The last window of a stream is padded with PAD,
    which the loss ignores."""

    def __init__(self, store, streams: np.ndarray, context: int):
        self.store, self.context = store, context
        self.streams = np.asarray(streams, dtype=np.int64).reshape(-1, 3)
        self.spans = Spans(self.streams[:, 2] - self.streams[:, 1], context)

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, i: int) -> dict:
        s, a, b = self.spans[i]
        k, start = int(self.streams[s, 0]), int(self.streams[s, 1])
        ids = np.zeros(self.context, dtype=np.int64)
        ids[: b - a] = self.store.read(k, start + a, start + b)
        return {"x": torch.from_numpy(ids), "index": i}

    def stream_id(self, s: int) -> str:
        return self.store.id(int(self.streams[s, 0]))


def cut_windows(lengths: list[int], context: int) -> list[tuple[int, int, int]]:
    """(stream, start, end) of windows of ``context`` tokens over streams of ``lengths``, each window
    overlapping the previous by one token, so every base after a stream's first is a target exactly
    once; a stream's last window may be shorter."""
    step = context - 1
    return [(s, a, min(a + context, n)) for s, n in enumerate(lengths) for a in range(0, max(n - 1, 0), step)]


class FastaLMDataModule(DataModule):
    """Sequences for next-nucleotide training: ``path`` (FASTA/FASTQ/GenBank, gzipped or not; one file
    or several; BED files of intervals cut from ``reference``) or the registered ``dataset`` (all its class
    files, labels ignored).

    Splits: with at least 10 records, whole records go to train/val/test (``val_fraction``,
    ``test_fraction``); with fewer (a genome, a chromosome), each record is cut by position: its first
    part trains, the next validates, the last tests. ``predict_path``: sequences to score (bits per base
    of each), default every record of the input. Windows overlap by one token, so every base after a
    record's first is scored once; each window starts from a fresh state (context = ``context``).

    ``index``: "auto" reads plain-text FASTA files of 64 MiB or more through a ``.fai`` index (built once,
    beside the file or in the user cache; windows read from disk as they are drawn, so files bigger than
    memory train), smaller or compressed files whole; "always" indexes every input (plain FASTA only);
    "never" reads every file whole. Indexed records must be evenly wrapped (as ``samtools faidx`` wants).
    ``predict`` writes id, bases, bits_per_base (predictions.tsv; an ``--output`` named .csv gets commas).
    """

    prediction_file = "predictions.tsv"
    prediction_fields = ("id", "bases", "bits_per_base")

    def __init__(self, path: str | list[str] | None = None, dataset: str = "genomics/promoters_arabidopsis",
                 data_dir: str | None = None, context: int = 1024, lowercase: str = "upper",
                 val_fraction: float = 0.1, test_fraction: float = 0.1, predict_path: str | None = None,
                 index: str = "auto", batch_size: int = 16, num_workers: int = 0, seed: int = 0,
                 reference: str | None = None):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if context < 2:
            raise DataError(f"context={context}: a window needs at least 2 tokens")
        if lowercase not in ("upper", "n", "error"):  # next-base targets are bases: no soft-mask channel here
            raise ConfigError(f"--data.lowercase {lowercase!r}: pretrain reads 'upper', 'n' or 'error'")
        if index not in INDEX_MODES:
            raise ConfigError(f"--data.index {index!r}: use one of {', '.join(INDEX_MODES)}")
        self.path, self.dataset, self.data_dir, self.context = path, dataset, data_dir, context
        self.lowercase, self.val_fraction, self.test_fraction = lowercase, val_fraction, test_fraction
        self.predict_path, self.index, self.reference = predict_path, index, reference

    def _indexed(self, path: str | Path) -> bool:
        from .fasta_index import is_plain_fasta

        if self.index == "never":
            return False
        plain = is_plain_fasta(path)
        if self.index == "always" and not plain:
            raise DataError("index='always' reads plain-text FASTA only (.fa .fasta .fna .fas, not gzipped); use "
                            "--data.index auto or never for this file", path=path)
        return plain and (self.index == "always" or Path(path).stat().st_size >= INDEX_MIN_BYTES)

    def _store(self, path: str | Path):
        """One file's sequences: through its .fai (read on demand) or read whole and encoded."""
        if self._indexed(path):
            from .fasta_index import fasta_index

            return fasta_index(path, self.lowercase)
        recs = read_records(path, duplicates="rename", reference=self.reference)
        return ArrayStore([r.id for r in recs], encode_records(recs, self.lowercase))

    def _input(self):
        if self.path:
            paths = [self.path] if isinstance(self.path, str) else list(self.path)
            self.source = "real: " + ", ".join(Path(p).name for p in paths)
        else:
            from .datasets import CLASS_FILES

            name = self.dataset.split("/", 1)[-1]
            if name not in CLASS_FILES:
                raise DataError(f"dataset {self.dataset!r} has no sequence files; give path=")
            folder = dataset_root(self.dataset, self.data_dir)
            self.source = f"real: {name}"
            paths = [folder / f for f in sorted(CLASS_FILES[name].values())]
        stores = [self._store(p) for p in paths]
        return stores[0] if len(stores) == 1 else ConcatStore(stores)

    def setup(self, stage: str | None = None) -> None:
        store = self._input()
        lengths = store.lengths
        n_seqs = len(lengths)
        streams: list[list[tuple[int, int, int]]] = [[], [], []]
        if n_seqs >= 10:
            for part, idx in zip(streams, split_indices(n_seqs, self.val_fraction, self.test_fraction, self.seed)):
                part.extend((int(k), 0, int(lengths[k])) for k in idx)
        else:  # few long records: split each by position
            for k, n in enumerate(lengths.tolist()):
                a = int(round(n * (1 - self.val_fraction - self.test_fraction)))
                b = int(round(n * (1 - self.test_fraction)))
                for part, piece in zip(streams, ((0, a), (a, b), (b, n))):
                    if piece[1] - piece[0] >= 2:
                        part.append((k, *piece))
        names = ("train", "validation", "test")
        for name, part in zip(names, streams):
            if not part and (name == "train" or self.val_fraction or self.test_fraction):
                raise DataError(f"the {name} split is empty: {n_seqs} record(s) are too few or too short")
        sets = [Windows(store, np.array(part, dtype=np.int64), self.context) for part in streams]
        self.train_set, self.val_set, self.test_set = sets
        # predictions: every record of predict_path, else of the input, scored whole
        pstore = self._store(self.predict_path) if self.predict_path else store
        whole = np.stack([np.arange(len(pstore.lengths)), np.zeros_like(pstore.lengths), pstore.lengths], 1)
        self.predict_set = Windows(pstore, whole, self.context)
        self.tokens = {n: d.spans.targets() for n, d in zip(names, sets)}  # targets

    # predictions: bits per base of each record ------------------------------------------------
    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        per_record: dict[int, list[float]] = {}
        for r in rows:
            stream = self.predict_set.spans[r["index"]][0]
            acc = per_record.setdefault(stream, [0.0, 0.0])
            acc[0] += r["nats"]
            acc[1] += r["bases"]
        out = []
        for s, (nats, bases) in sorted(per_record.items()):
            bits = nats / max(bases, 1) / math.log(2)
            out.append({"id": self.predict_set.stream_id(s), "bases": int(bases), "bits_per_base": round(bits, 5)})
        return out



class BitsPerBase(MeanMetric):
    """Mean negative log-likelihood over scored bases, reported in bits (weights = bases per batch)."""

    def compute(self) -> torch.Tensor:
        return super().compute() / math.log(2)


class Perplexity(MeanMetric):
    """exp(mean negative log-likelihood per base)."""

    def compute(self) -> torch.Tensor:
        return torch.exp(super().compute())


class DNALanguageModel(Task):
    """Causal next-nucleotide model. Batches: {"x": (b, L) ids, PAD after a stream's end}.

    The network reads x[:, :-1] and predicts x[:, 1:] through a linear head; only A/C/G/T targets
    count (N, mask and padding are skipped).

    Args:
        chunk: tokens per piece of a window trained with the state carried between pieces (0: the
            whole window at once). Gradients stop at piece boundaries; the state does not.
        clip: gradient-norm clipping (applied here: chunked training steps the optimiser itself).
    """

    def __init__(self, d_model: int = 128, n_layers: int = 4, d_state: int = 16, mixer: str = "mamba",
                 dropout: float = 0.0, d_intermediate: int = 0, chunk: int = 0, clip: float = 1.0,
                 lr: float = 1e-3, weight_decay: float = 0.05, warmup: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        self.save_hyperparameters()
        self.net = DNANet(d_model=d_model, n_layers=n_layers, d_state=d_state, bidirectional=False, rc="none",
                          mixer=mixer, dropout=dropout, d_intermediate=d_intermediate)
        self.head = nn.Linear(d_model, VOCAB_SIZE)
        self.chunk, self.clip = chunk, clip
        self.automatic_optimization = False
        self.set_metrics(MetricCollection({"bits_per_base": BitsPerBase(), "perplexity": Perplexity()}))

    def logits(self, ids: torch.Tensor, state: list | None = None) -> torch.Tensor:
        """ids (b, L) -> next-token logits (b, L, vocab)."""
        return self.head(self.net.backbone(self.net.embed(ids), state))

    @staticmethod
    def _nll(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed NLL (nats) over A/C/G/T targets and their count."""
        keep = (targets >= BASES[0]) & (targets <= BASES[-1])
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # never below float32
        nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        return (nll * keep.flatten()).sum(), keep.sum()

    def _pieces(self, L: int) -> list[tuple[int, int]]:
        step = self.chunk if self.chunk and self.chunk < L else L
        return [(a, min(a + step, L)) for a in range(0, L, step)]

    def window_nll(self, x: torch.Tensor, backward: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole-window NLL sum and base count, chunk by chunk with a carried state; with ``backward``
        each piece's share of the mean loss is backpropagated as soon as it is computed."""
        inputs, targets = x[:, :-1], x[:, 1:]
        count = ((targets >= BASES[0]) & (targets <= BASES[-1])).sum()
        pieces = self._pieces(inputs.shape[1])
        state = self.net.backbone.allocate_state(x.shape[0], x.device) if len(pieces) > 1 else None
        total = 0.0
        for a, b in pieces:
            nll, _ = self._nll(self.logits(inputs[:, a:b], state), targets[:, a:b])
            if backward:
                self.manual_backward(nll / count.clamp_min(1))
            total = total + nll.detach()
            if state is not None:
                Backbone.detach_state(state)
        return torch.as_tensor(total, device=x.device), count

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        opt, sched = self.optimizers(), self.lr_schedulers()
        opt.zero_grad()
        total, count = self.window_nll(batch["x"], backward=True)
        if self.clip:
            self.clip_gradients(opt, gradient_clip_val=self.clip, gradient_clip_algorithm="norm")
        opt.step()
        sched.step()
        loss = total / count.clamp_min(1)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["x"]))
        self.log("train/bits_per_base", loss / math.log(2), on_step=False, on_epoch=True,
                 batch_size=len(batch["x"]))
        return loss

    def _eval_step(self, batch: dict, metrics: MetricCollection | None, stage: str) -> torch.Tensor:
        total, count = self.window_nll(batch["x"])
        loss = total / count.clamp_min(1)
        self.log(f"{stage}/loss", loss, prog_bar=True, on_epoch=True, batch_size=len(batch["x"]), sync_dist=True)
        if metrics is not None:
            for m in metrics.values():
                m.update(loss, weight=count.float())
            self.log_dict(metrics, on_epoch=True, batch_size=len(batch["x"]))
        return loss

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, Any]]:
        rows = []
        for i, row in zip(batch["index"], batch["x"]):
            nll, n = self.window_nll(row.unsqueeze(0))
            rows.append({"index": int(i), "nats": float(nll), "bases": int(n)})
        return rows

    def test_table(self, metrics: dict) -> tuple[str, list[str], list[list]] | None:
        bpb = metrics.get("test/bits_per_base")
        if bpb is None:
            return None
        return ("next-nucleotide prediction (test)", ["metric", "value", "uniform model"],
                [["bits per base", f"{float(bpb):.4f}", "2.0000"],
                 ["perplexity", f"{float(metrics['test/perplexity']):.4f}", "4.0000"]])


__all__ = ["DNALanguageModel", "FastaLMDataModule", "Windows", "Spans", "ArrayStore", "cut_windows"]
