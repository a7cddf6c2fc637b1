"""The next-item task: any registered recommender, full-catalogue (or sampled) softmax, full-ranking metrics
next to the popularity baseline, and top-k recommendations."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ssmkit.errors import ConfigError, DataError
from ssmkit.tasks import Task

from .metrics import DEFAULT_KS, RankingMetrics, target_ranks
from .models import MODELS, Popularity, build_model
from .vocab import PAD

LOSSES = ("ce", "sampled", "bce")


class NextItemRecommender(Task):
    """Predict each user's next item. Batches: training {"x": (b, L) inputs, "y": (b, L) next items, PAD where
    none}; evaluation {"x": (b, L), "target": (b,), "seen": (b, S) earlier items, "index": (b,)}; all
    right-padded with 0.

    Args:
        model: mamba4rec, sasrec, gru4rec or popularity; ``options``: its keyword arguments.
        n_items, max_len: catalogue size and window (linked from the data module).
        loss: "ce" (softmax over the whole catalogue), "sampled" (softmax over the target and
            ``num_negatives`` uniformly sampled items shared by the batch; accidental hits masked) or "bce"
            (SASRec's objective: at each position the next item against one item drawn uniformly from those
            the user never had in training, binary cross-entropy on the two scores; see ``bce_loss``).
        exclude_history: leave the user's earlier items out of the ranking (RecBole, ICLRec); False keeps them.
        ks: cut-offs of HR, NDCG and MRR; ``rank_chunk``: items scored at a time when ranking.
        baselines: also rank with the popularity baseline on the test users.
    """

    def __init__(self, model: str = "mamba4rec", options: dict | None = None, n_items: int = 1,
                 max_len: int = 50, loss: str = "ce", num_negatives: int = 1000, exclude_history: bool = True,
                 ks: list[int] | None = None, rank_chunk: int = 65_536, baselines: bool = True,
                 lr: float = 1e-3, weight_decay: float = 0.0, warmup: float = 0.0, min_lr_ratio: float = 0.1,
                 optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup, min_lr_ratio=min_lr_ratio,
                         optimizer=optimizer, betas=betas)
        self.save_hyperparameters()
        if loss not in LOSSES:
            raise ConfigError(f"--model.loss {loss!r}: use one of {', '.join(LOSSES)}")
        if loss == "sampled" and num_negatives < 1:
            raise ConfigError(f"--model.num_negatives {num_negatives} must be at least 1")
        self.ks = tuple(sorted(int(k) for k in (ks or DEFAULT_KS)))
        if not self.ks or min(self.ks) < 1:
            raise ConfigError(f"--model.ks {ks}: cut-offs must be positive integers")
        try:
            self.net = build_model(model, n_items, max_len, **(options or {}))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"--model.model {model} / --model.options: {exc}") from None
        self.trainable = self.net.trainable
        self.baselines = torch.nn.ModuleDict()
        if baselines and model != "popularity":
            self.baselines["popularity"] = Popularity(n_items, max_len)
        self.val_rank = RankingMetrics(self.ks)
        self.test_rank = RankingMetrics(self.ks)
        self.baseline_rank = torch.nn.ModuleDict({name: RankingMetrics(self.ks) for name in self.baselines})
        self.vocab_items: list[str] | None = None  # the training vocabulary, kept in the checkpoint
        self._history_keys: torch.Tensor | None = None  # sorted user * (n_items + 1) + item, for "bce"

    # plumbing -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, L) -> hidden states (b, L, d)."""
        return self.net(x)

    def _datamodule(self):
        return getattr(self._trainer, "datamodule", None) if self._trainer is not None else None

    def _fit_popularity(self) -> None:
        dm = self._datamodule()
        split = getattr(dm, "split", None)
        if split is None:
            return
        for model in [self.net, *self.baselines.values()]:
            if isinstance(model, Popularity) and not model.fitted:
                model.fit(split.train)

    def _check_vocab(self) -> None:
        dm = self._datamodule()
        vocab = getattr(dm, "vocab", None) if dm is not None else None
        if vocab is None:
            return
        if self.vocab_items is None:
            self.vocab_items = list(vocab.items)
        elif self.vocab_items != vocab.items:
            raise DataError(f"the data's item vocabulary ({len(vocab)} items) is not the one this model was trained "
                            f"with ({len(self.vocab_items) - 1} items); pass the run's --data.vocab vocab.json")

    def on_fit_start(self) -> None:
        self._check_vocab()
        self._fit_popularity()
        split = getattr(self._datamodule(), "split", None)
        if self.hparams.loss == "bce" and split is not None:
            self.set_train_histories(split.train)

    def on_test_start(self) -> None:
        self._check_vocab()
        self._fit_popularity()

    def on_validation_start(self) -> None:
        self._fit_popularity()

    def on_predict_start(self) -> None:
        self._check_vocab()
        self._fit_popularity()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.vocab_items is not None:
            checkpoint["recsys_vocabulary"] = self.vocab_items

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Runs before the weights load: a catalogue of another size is a clear error, not a shape mismatch."""
        self.vocab_items = checkpoint.get("recsys_vocabulary")
        if self.vocab_items is not None and len(self.vocab_items) - 1 != self.hparams.n_items:
            raise DataError(f"the checkpoint was trained on {len(self.vocab_items) - 1} items, the data has "
                            f"{self.hparams.n_items}; pass the run's --data.vocab vocab.json (or its training data)")

    # loss ---------------------------------------------------------------------------------
    def compute_loss(self, h: torch.Tensor, batch: dict) -> torch.Tensor:
        """h (b, L, d), batch["y"] (b, L) -> the mean loss over the positions with a next item."""
        y = batch["y"]
        if self.hparams.loss == "bce":
            neg = batch["neg"] if "neg" in batch else self.sample_negatives(batch)
            return self.bce_loss(h, y, neg)
        keep = y != PAD
        h, y = h[keep].float(), y[keep]  # (N, d), (N,)
        if self.hparams.loss == "ce":
            logits = self.net.scores(h)  # (N, n_items + 1)
            logits[:, PAD] = float("-inf")
            return F.cross_entropy(logits, y)
        negatives = torch.randint(1, self.hparams.n_items + 1, (self.hparams.num_negatives,), device=h.device)
        pos = (h * self.net.item_emb.weight[y].float()).sum(-1, keepdim=True)  # (N, 1)
        neg = h @ self.net.item_emb.weight[negatives].float().T  # (N, n_neg)
        neg = neg.masked_fill(negatives[None, :] == y[:, None], float("-inf"))
        return F.cross_entropy(torch.cat([pos, neg], 1), torch.zeros_like(y))

    def bce_loss(self, h: torch.Tensor, y: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """SASRec's loss: h (b, L, d), next items y (b, L), one negative item per position neg (b, L) ->
        sum over positions with y != PAD of [-log sigmoid(h.e_y) - log(1 - sigmoid(h.e_neg))], divided by
        their number. A negative of PAD (none could be drawn) drops its term; scores in float32 at least."""
        keep = y != PAD
        dtype = torch.promote_types(h.dtype, torch.float32)
        h, y, neg = h[keep].to(dtype), y[keep], neg[keep]  # (N, d), (N,), (N,)
        emb = self.net.item_emb.weight
        pos_score = (h * emb[y].to(dtype)).sum(-1)
        neg_score = (h * emb[neg].to(dtype)).sum(-1)
        terms = -F.logsigmoid(pos_score) - F.logsigmoid(-neg_score) * (neg != PAD)
        return terms.sum() / keep.sum().clamp(min=1)

    def set_train_histories(self, sequences: list[np.ndarray]) -> None:
        """The training sequence of each user (position = the training batches' "index"): the items that
        ``sample_negatives`` never draws for that user."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        users = np.repeat(np.arange(len(sequences), dtype=np.int64), lengths)
        items = np.concatenate([np.asarray(s, np.int64) for s in sequences]) if lengths.sum() else users
        self._history_keys = torch.from_numpy(np.unique(users * (self.hparams.n_items + 1) + items))

    def _in_history(self, batch: dict, items: torch.Tensor) -> torch.Tensor:
        """items (b, L) -> (b, L) True where the item is in the row's user's training history (from
        ``set_train_histories``; without it, where it is in the row's own window x or y)."""
        keys = self._history_keys
        if keys is None or "index" not in batch or not len(keys):
            window = torch.cat([batch["x"], batch["y"]], 1)  # (b, 2L)
            return (items[:, :, None] == window[:, None, :]).any(-1)
        if keys.device != items.device:
            keys = self._history_keys = keys.to(items.device)
        users = torch.as_tensor(batch["index"], device=items.device).long()
        query = users[:, None] * (self.hparams.n_items + 1) + items  # (b, L)
        found = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
        return keys[found] == query

    def sample_negatives(self, batch: dict, rounds: int = 100) -> torch.Tensor:
        """One negative per position: (b, L) items drawn uniformly from 1..n_items outside the user's
        history (rejection sampling); PAD where batch["y"] is PAD or no draw of ``rounds`` succeeded."""
        y = batch["y"]
        n = self.hparams.n_items
        neg = torch.randint(1, n + 1, y.shape, device=y.device)
        wanted = y != PAD
        for _ in range(rounds):
            hit = self._in_history(batch, neg) & wanted
            if not hit.any():
                break
            neg = torch.where(hit, torch.randint_like(neg, 1, n + 1), neg)
        else:
            wanted = wanted & ~self._in_history(batch, neg)
        return neg.masked_fill(~wanted, PAD)

    # ranking ------------------------------------------------------------------------------
    def ranks(self, model, batch: dict) -> torch.Tensor:
        """0-based rank of each target among all items, ``seen`` excluded when ``exclude_history``: (b,).
        Scores in float32 even under bf16 autocast (bf16 scores tie often and would move ranks)."""
        h = self._user_states(model, batch["x"])
        seen = batch["seen"] if self.hparams.exclude_history else None
        with torch.autocast(h.device.type, enabled=False):
            return target_ranks(lambda a, b: model.scores(h, a, b), self.hparams.n_items, batch["target"], seen,
                                self.hparams.rank_chunk)

    @staticmethod
    def _user_states(model, x: torch.Tensor) -> torch.Tensor:
        """x (b, L) -> (b, d) float32 states after each history (zeros (b, 1) for popularity)."""
        if not model.trainable:
            return x.new_zeros(len(x), 1, dtype=torch.float32)
        return model.last_hidden(x).float()

    # steps ----------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int):
        if not self.trainable:
            return None
        return super().training_step(batch, batch_idx)

    def configure_optimizers(self):
        if not self.trainable:
            return None
        return super().configure_optimizers()

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.val_rank.update(self.ranks(self.net, batch))

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.test_rank.update(self.ranks(self.net, batch))
        for name, baseline in self.baselines.items():
            self.baseline_rank[name].update(self.ranks(baseline, batch))

    def _log_ranks(self, prefix: str, metric: RankingMetrics) -> None:
        if int(metric.count) == 0 and not torch.distributed.is_initialized():
            return
        for key, value in metric.compute().items():
            self.log(f"{prefix}{key}", value, prog_bar=prefix == "val/" and key == "ndcg@10")
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_ranks("val/", self.val_rank)

    def on_test_epoch_end(self) -> None:
        self._log_ranks("test/", self.test_rank)
        for name, metric in self.baseline_rank.items():
            self._log_ranks(f"test/{name}/", metric)

    @torch.no_grad()
    def recommend(self, batch: dict, k: int, exclude_history: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-k items (b, k) and their scores (b, k) after each history in batch["x"] (padding and, when
        ``exclude_history``, batch["seen"] never recommended)."""
        h = self._user_states(self.net, batch["x"])
        with torch.autocast(h.device.type, enabled=False):
            scores = self.net.scores(h).float()  # (b, n_items + 1)
        scores[:, PAD] = float("-inf")
        if exclude_history:
            scores.scatter_(1, batch["seen"], float("-inf"))  # PAD entries land on column 0, already -inf
        top = scores.topk(min(k, self.hparams.n_items), dim=1)
        return top.indices, top.values

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, Any]]:
        dm = self._datamodule()
        k = getattr(dm, "top_k", 10)
        items, scores = self.recommend(batch, k, self.hparams.exclude_history)
        items, scores = items.cpu().numpy(), scores.cpu().numpy()
        return [{"index": int(i), "items": items[j], "scores": scores[j]} for j, i in enumerate(batch["index"])]

    # report ---------------------------------------------------------------------------------
    def test_table(self, metrics: dict) -> tuple[str, list[str], list[list]] | None:
        """One row per recommender (this model, then the baselines): HR, NDCG and MRR at each cut-off."""
        def get(key):
            value = metrics.get(key)
            return None if value is None else float(value)

        names = [f"{m}@{k}" for k in self.ks for m in ("hr", "ndcg")] + [f"mrr@{k}" for k in self.ks]
        rows = [[self.hparams.model] + [get(f"test/{n}") for n in names]]
        for name in self.baselines:
            if get(f"test/{name}/hr@{self.ks[0]}") is not None:
                rows.append([f"{name} (baseline)"] + [get(f"test/{name}/{n}") for n in names])
        kept = "earlier items excluded" if self.hparams.exclude_history else "earlier items kept"
        title = (f"test: leave-one-out, full ranking over all {self.hparams.n_items:,} items (no sampled negatives), "
                 f"{kept}")
        return title, ["recommender"] + names, rows


__all__ = ["NextItemRecommender", "MODELS", "LOSSES"]
