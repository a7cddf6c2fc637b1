"""Crash-safe checkpoints: atomic writes, ``last.ckpt`` every N steps and on SIGTERM, RNG states for resuming."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.utilities.exceptions import SIGTERMException
from pytorch_lightning.utilities.rank_zero import rank_zero_info

from ..atomic import atomic_write
from ..errors import ConfigError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint under a temporary name in its folder, then renames it (``os.replace``):
    a run killed while saving leaves the previous checkpoint whole and no partial file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):  # remote or custom storage: Lightning's own way
            return super().save_checkpoint(checkpoint, path, storage_options)
        with atomic_write(path, "wb") as handle:
            torch.save(checkpoint, handle)


def rng_states() -> dict[str, Any]:
    """The global torch (CPU and CUDA), numpy and Python RNG states, as tensors and plain values
    (loadable with ``torch.load(weights_only=True)``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
            "python": random.getstate()}


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, state, gauss = states["python"]
    random.setstate((version, tuple(state), gauss))


class LastCheckpoint(Callback):
    """Keeps ``last.ckpt`` (in the ModelCheckpoint's folder) ready for ``fit --ckpt_path last``.

    Saved at the end of every training epoch (since Lightning 2.6 ModelCheckpoint(save_last=True) rewrites it only
    when it saves a top-k checkpoint), every ``every_n_steps`` optimizer steps (mid-epoch) if given, and at the
    end of the batch during which the process got SIGTERM: Lightning's signal connector flags SIGTERM and stops
    the run right after that batch (``SIGTERMException``). The callback's state holds the global RNG states, set
    again when training resumes, so that with the data module's resumable loader a resumed run continues as the
    uninterrupted one would have.
    """

    quiet = False  # True: the caller reports the SIGTERM checkpoint itself (the console script does)

    def __init__(self, every_n_steps: int | None = None):
        if every_n_steps is not None and every_n_steps < 1:
            raise ConfigError(f"last_checkpoint.every_n_steps must be 1 or more, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.saved: str | None = None  # where the SIGTERM checkpoint went
        self._step_saved = -1
        self._rng_to_set: dict | None = None

    def _folder(self, trainer) -> Path:
        cb = trainer.checkpoint_callback
        if isinstance(cb, ModelCheckpoint) and cb.dirpath:
            return Path(cb.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir) / "checkpoints"

    def _save(self, trainer) -> str:
        path = str(self._folder(trainer) / "last.ckpt")
        trainer.save_checkpoint(path, weights_only=False)  # the full state, to resume from
        self._step_saved = trainer.global_step
        for cb in trainer.checkpoint_callbacks:  # its next last.ckpt replaces this file (not last-v1.ckpt)
            if isinstance(cb, ModelCheckpoint) and cb.save_last and Path(cb.dirpath or "") == Path(path).parent:
                cb.last_model_path = path
        return path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.received_sigterm:
            self._on_sigterm(trainer)
        elif (self.every_n_steps and trainer.global_step % self.every_n_steps == 0
              and trainer.global_step != self._step_saved):
            self._save(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._save(trainer)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._on_sigterm(trainer)  # SIGTERM during validation: no batch end came first

    def _on_sigterm(self, trainer) -> None:
        if self.saved is None and trainer.global_step > 0:
            self.saved = self._save(trainer)
            if not self.quiet:
                rank_zero_info(f"SIGTERM: saved {self.saved} (epoch {trainer.current_epoch}, "
                               f"step {trainer.global_step})")

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._rng_to_set = state_dict.get("rng")

    def on_train_start(self, trainer, pl_module) -> None:
        if self._rng_to_set is not None:  # right before training: model init and sanity check drew their own
            set_rng_states(self._rng_to_set)
            self._rng_to_set = None


__all__ = ["AtomicCheckpointIO", "LastCheckpoint", "rng_states", "set_rng_states"]
