"""The next-item data module: an interaction log -> encoded histories -> leave-one-out sets; histories to
recommend for, and the top-k CSV in original ids."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ssmkit.data import DataModule, dataset_root
from ssmkit.errors import ConfigError, DataError

from .datasets import DATASETS
from .datasets import FORMATS as DATASET_FORMATS
from .readers import FORMATS, Histories, k_core, read_histories
from .split import EvalSet, LeaveOneOut, TrainWindows, leave_one_out
from .vocab import Vocabulary

UNKNOWN = ("error", "skip")


class NextItemDataModule(DataModule):
    """Histories for next-item prediction, split leave-one-out (last item test, second-to-last validation).

    Args:
        path: an interaction file in any reader format (see ``readers``); default: the registered
            ``dataset`` in ``data_dir``.
        fmt: "auto", "lines", "pairs", "table", "inter" or "movielens".
        k_core: keep only users and items with at least this many interactions (repeatedly); 0 keeps all.
        max_len: the most recent items a model sees (default 50).
        max_users: use only the first n users of the file (quick runs, the demo); None uses all.
        predict_path: histories to recommend for (any format; default: every training user's full history);
            ``predict_fmt`` its format, ``unknown_items`` what an item outside the vocabulary does ("error" or
            "skip"), ``top_k`` how many items to write per user.
        vocab: a vocab.json from a training run, used instead of rebuilding the vocabulary from the data.
        eval_batch_size: batch size of validation, test and predict (default: batch_size).
    """

    prediction_fields = ("user", "rank", "item", "score")

    def __init__(self, path: str | None = None, fmt: str = "auto", dataset: str = "recsys/Beauty",
                 data_dir: str | None = None, k_core: int = 0, max_len: int = 50, max_users: int | None = None,
                 predict_path: str | None = None, predict_fmt: str = "auto", unknown_items: str = "error",
                 top_k: int = 10, vocab: str | None = None, batch_size: int = 256,
                 eval_batch_size: int | None = None, num_workers: int = 0, seed: int = 0):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if fmt not in FORMATS or predict_fmt not in FORMATS:
            raise ConfigError(f"--data.fmt {fmt!r} / --data.predict_fmt {predict_fmt!r}: use one of "
                              f"{', '.join(FORMATS)}")
        if max_len < 1:
            raise ConfigError(f"--data.max_len {max_len} must be at least 1")
        if unknown_items not in UNKNOWN:
            raise ConfigError(f"--data.unknown_items {unknown_items!r}: use one of {', '.join(UNKNOWN)}")
        if top_k < 1:
            raise ConfigError(f"--data.top_k {top_k} must be at least 1")
        if max_users is not None and max_users < 1:
            raise ConfigError(f"--data.max_users {max_users} must be at least 1")
        self.path, self.fmt, self.dataset, self.data_dir = path, fmt, dataset, data_dir
        self.k_core, self.max_len, self.max_users = k_core, max_len, max_users
        self.predict_path, self.predict_fmt, self.unknown_items = predict_path, predict_fmt, unknown_items
        self.top_k, self.vocab_path = top_k, vocab
        self.eval_batch_size = eval_batch_size or batch_size
        self._hist: Histories | None = None
        self._vocab: Vocabulary | None = None
        self.split: LeaveOneOut | None = None

    # reading ---------------------------------------------------------------------------------
    def _read(self) -> Histories:
        if self.path:
            hist = read_histories(self.path, self.fmt)
            self.source = f"real: {Path(self.path).name}"
        else:
            name = self.dataset.split("/", 1)[-1]
            if name not in DATASETS:
                raise ConfigError(f"--data.dataset {self.dataset!r}: known are "
                                  f"{', '.join('recsys/' + n for n in DATASETS)}")
            folder = dataset_root(self.dataset, self.data_dir)
            file = Path(DATASETS[name].files[0].path).name
            hist = read_histories(folder / file, DATASET_FORMATS[name] if self.fmt == "auto" else self.fmt)
            self.source = f"real: {name}"
        if self.max_users is not None and self.max_users < len(hist):
            hist = hist.subset(list(range(self.max_users)))
            self.source += f" (first {self.max_users} users)"
        if self.k_core > 1:
            hist = k_core(hist, self.k_core)
            self.source += f", {self.k_core}-core"
        return hist

    @property
    def histories(self) -> Histories:
        if self._hist is None:
            self._hist = self._read()
        return self._hist

    @property
    def vocab(self) -> Vocabulary:
        if self._vocab is None:
            self._vocab = Vocabulary.load(self.vocab_path) if self.vocab_path else Vocabulary.build(self.histories)
        return self._vocab

    @property
    def n_items(self) -> int:
        """Catalogue size (padding excluded); linked to the model's ``n_items``."""
        return len(self.vocab)

    # splits ----------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.vocab_path and self.predict_path:
            self.predict_set = self._predict_set()  # the vocabulary alone: no training data needed
            return
        hist, vocab = self.histories, self.vocab
        encoded = [np.asarray(vocab.encode(items, hist.path, line, user, self.unknown_items), dtype=np.int64)
                   for user, items, line in zip(hist.users, hist.items, hist.lines)]
        self.split = sp = leave_one_out(encoded)
        if not len(sp.test_users):
            raise DataError("no user has 3 or more interactions: nothing to validate or test on", path=hist.path)
        seen_len = max(len(h) for h in encoded)
        self.train_set = TrainWindows(sp.train, self.max_len)
        if not len(self.train_set):
            raise DataError("no training pairs: every user needs 2 items before the held-out ones", path=hist.path)
        self.val_set = EvalSet(sp.val_users, [sp.val_input(u) for u in sp.val_users],
                               [sp.val_target(u) for u in sp.val_users], self.max_len, seen_len)
        self.test_set = EvalSet(sp.test_users, [sp.test_input(u) for u in sp.test_users],
                                [sp.test_target(u) for u in sp.test_users], self.max_len, seen_len)
        if stage in (None, "fit"):
            self._save_vocab()
        if stage in (None, "predict"):
            self.predict_set = self._predict_set(encoded)

    def _save_vocab(self) -> None:
        """vocab.json beside the run's checkpoints and config, so predictions can speak original ids."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or trainer.logger is None:  # no run folder (a demo, a script): nothing to write
            return
        log_dir = trainer.log_dir
        if log_dir and trainer.is_global_zero:
            self.vocab.save(Path(log_dir) / "vocab.json")

    def _predict_set(self, encoded: list[np.ndarray] | None = None) -> EvalSet:
        """Whole histories to recommend after: the predict file's, else the training users'."""
        if self.predict_path:
            hist = read_histories(self.predict_path, self.predict_fmt)
            encoded, users, dropped, empty = [], [], 0, []
            for u, (user, items) in enumerate(zip(hist.users, hist.items)):
                lines = [hist.line_of(u, j) for j in range(len(items))]
                ids = self.vocab.encode(items, hist.path, lines, user, self.unknown_items)
                dropped += len(items) - len(ids)
                if not ids:  # only with unknown_items="skip": every item of this user was unknown
                    empty.append(user)
                    continue
                encoded.append(np.asarray(ids, dtype=np.int64))
                users.append(user)
            if dropped:
                users_left = f"; {len(empty)} user(s) had no known item left and get no rows (first: {empty[0]!r})" \
                    if empty else ""
                warnings.warn(f"{hist.path}: skipped {dropped} interaction(s) with items the model never saw"
                              + users_left, stacklevel=2)
            if not encoded:
                raise DataError("no user has a known item: nothing to recommend after", path=hist.path)
        else:
            hist = self.histories
            users = hist.users
        self._predict_users = users
        users = np.arange(len(encoded), dtype=np.int64)
        return EvalSet(users, encoded, None, self.max_len, max(len(h) for h in encoded))

    def _loader(self, dataset, shuffle: bool):
        loader = super()._loader(dataset, shuffle)
        if not shuffle and self.eval_batch_size != self.batch_size:
            from torch.utils.data import DataLoader

            loader = DataLoader(dataset, batch_size=self.eval_batch_size, shuffle=False,
                                num_workers=self.num_workers, persistent_workers=self.num_workers > 0)
        return loader

    # predictions -----------------------------------------------------------------------------
    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Model rows {"index", "items" (k,), "scores" (k,)} -> user, rank, item, score in original ids. Items
        scored -inf (padding, the user's own history) are never written, so a top_k beyond the items left
        gives fewer rows rather than excluded ones."""
        out = []
        for r in rows:
            user = self._predict_users[r["index"]]
            ranked = [(item, score) for item, score in zip(r["items"], r["scores"]) if math.isfinite(score)]
            for rank, (item, score) in enumerate(ranked, 1):
                out.append({"user": user, "rank": rank, "item": self.vocab.decode(int(item)),
                            "score": round(float(score), 6)})
        return out


__all__ = ["NextItemDataModule"]
