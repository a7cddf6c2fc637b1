"""Item ids <-> integer indices (0 is padding), saved as JSON beside a model so predictions speak the
original ids."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ssmkit.atomic import atomic_write
from ssmkit.errors import DataError

from .readers import Histories

__all__ = ["Vocabulary", "PAD"]

PAD = 0


class Vocabulary:
    """``items[i]`` is the original id of index i (i >= 1); ``items[0]`` is the padding slot ("")."""

    def __init__(self, items: list[str]):
        if not items or items[0] != "":
            items = [""] + list(items)
        self.items = list(items)
        self.index = {it: i for i, it in enumerate(self.items) if i}
        if len(self.index) != len(self.items) - 1:
            raise DataError("the vocabulary repeats an item id")

    @classmethod
    def build(cls, hist: Histories) -> Vocabulary:
        """Items in order of first appearance in the file (deterministic for a given file)."""
        seen: dict[str, None] = {}
        for h in hist.items:
            for it in h:
                seen.setdefault(it, None)
        return cls([""] + list(seen))

    def __len__(self) -> int:
        """Number of real items (padding excluded)."""
        return len(self.items) - 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.items == other.items

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.items).encode()).hexdigest()[:16]

    def encode(self, items: list[str], path: str = "", line: int | list[int] | None = None, user: str = "",
               unknown: str = "error") -> list[int]:
        """Original ids -> indices; an id outside the vocabulary is an error naming the file and line (``line``:
        one for all items, or one per item) unless ``unknown="skip"``, which drops it."""
        out = []
        for j, it in enumerate(items):
            i = self.index.get(it)
            if i is None:
                if unknown == "skip":
                    continue
                where = line[j] if isinstance(line, list) else line
                raise DataError(f"user {user!r}: item {it!r} is not in the model's vocabulary of {len(self)} items "
                                "(pass --data.unknown_items skip to drop unknown items)", path=path or None, line=where)
            out.append(i)
        return out

    def decode(self, index: int) -> str:
        return self.items[index]

    def save(self, path: str | Path) -> Path:
        """Write {"items": [...]} (index order, padding first) atomically."""
        path = Path(path)
        with atomic_write(path, "w") as handle:
            json.dump({"format": "ssmkit-recsys-vocabulary/1", "items": self.items}, handle)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            data = json.loads(Path(path).read_text())
            items = data["items"]
        except FileNotFoundError:
            raise DataError("vocabulary file not found", path=path) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"not a vocabulary file ({exc})", path=path) from None
        return cls([str(x) for x in items])
