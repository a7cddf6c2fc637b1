"""DNA tokens: encoding, decoding, reverse complement, cropping, padding and packing.

Vocabulary (token id = index): ``PAD=0, A=1, C=2, G=3, T=4, N=5, MASK=6``; ``VOCAB = "-ACGTN"`` names the
six sequence symbols and ``VOCAB_SIZE = 7`` is the embedding-table size, which keeps one id (``MASK``) for
masked-language-model pre-training. ``decode`` writes MASK as ``"#"``.

Policy for characters that are not A, C, G or T (``encode``):

* ``U`` -> ``T`` (RNA input);
* IUPAC ambiguity codes ``R Y S W K M B D H V`` and ``N`` -> ``N``;
* lowercase (soft-masked repeats): ``lowercase="upper"`` (default) reads them as uppercase,
  ``"n"`` turns them into N (hard masking), ``"error"`` rejects them; ``encode_with_mask`` keeps them
  as a boolean mask beside the ids;
* gaps ``-`` and ``.`` are not bases: ``InvalidBase`` (a ``ValueError``) naming the character and its
  1-based position; any other character (digits, ``*``, whitespace, non-ASCII) likewise.

Readers wrap ``InvalidBase`` into ``ssmkit.errors.DataError`` with the file, line and record id
(``ssmkit_genomics.readers.encode_records``). Everything is vectorised through 256-entry lookup tables.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

__all__ = [
    "PAD", "A", "C", "G", "T", "N", "MASK", "VOCAB", "VOCAB_SIZE", "SYMBOLS", "InvalidBase",
    "encode", "encode_with_mask", "soft_mask", "decode", "reverse_complement", "reverse_complement_padded",
    "crop_or_pad", "pad_batch", "pack",
]

PAD, A, C, G, T, N, MASK = range(7)
VOCAB = "-ACGTN"
VOCAB_SIZE = 7  # the six symbols of VOCAB plus MASK
SYMBOLS = VOCAB + "#"  # what decode writes for each id, MASK included

_BAD = 255  # lookup-table marker: not a base
_GAP = 254  # lookup-table marker: an alignment gap


def _table(lower: int | None) -> np.ndarray:
    """256-entry byte -> id table; ``lower`` is what lowercase letters become (None: same as upper)."""
    table = np.full(256, _BAD, dtype=np.uint8)
    for chars, token in (("A", A), ("C", C), ("G", G), ("TU", T), ("NRYSWKMBDHV", N)):
        for ch in chars:
            table[ord(ch)] = token
            table[ord(ch.lower())] = token if lower is None else lower
    table[ord("-")] = table[ord(".")] = _GAP
    return table


_TABLES = {"upper": _table(None), "n": _table(N), "error": _table(_BAD)}
_LOWER = np.zeros(256, dtype=bool)
_LOWER[np.frombuffer(b"acgtunryswkmbdhv", dtype=np.uint8)] = True
_COMPLEMENT = np.array([PAD, T, G, C, A, N, MASK], dtype=np.uint8)
_SYMBOL_BYTES = np.frombuffer(SYMBOLS.encode(), dtype=np.uint8)


class InvalidBase(ValueError):
    """A character that is not a base; ``char`` and ``position`` (0-based) say which and where."""

    def __init__(self, message: str, char: str, position: int):
        super().__init__(message)
        self.char, self.position = char, position


def _as_bytes(seq: str | bytes) -> np.ndarray:
    if isinstance(seq, str):
        try:
            seq = seq.encode("ascii")
        except UnicodeEncodeError as exc:
            ch = seq[exc.start]
            raise InvalidBase(f"invalid character {ch!r} at position {exc.start + 1}: not a DNA base",
                              ch, exc.start) from None
    return np.frombuffer(seq, dtype=np.uint8)


def _check(raw: np.ndarray, ids: np.ndarray, lowercase: str) -> None:
    bad = np.flatnonzero(ids >= _GAP)
    if bad.size == 0:
        return
    pos = int(bad[0])
    ch = chr(raw[pos])
    more = f" (and {bad.size - 1} more invalid characters)" if bad.size > 1 else ""
    if ids[pos] == _GAP:
        what = "a gap is not a base; remove alignment gaps before encoding"
    elif lowercase == "error" and _LOWER[raw[pos]]:
        what = "lowercase (soft-masked) bases are rejected with lowercase='error'"
    else:
        what = "not a DNA base or IUPAC code"
    raise InvalidBase(f"invalid character {ch!r} at position {pos + 1}: {what}{more}", ch, pos)


def encode(seq: str | bytes, lowercase: str = "upper") -> np.ndarray:
    """Sequence text (L characters) -> token ids (L,) uint8, following the module's non-ACGT policy."""
    if lowercase not in _TABLES:
        raise ValueError(f"lowercase must be one of {sorted(_TABLES)}, got {lowercase!r}")
    raw = _as_bytes(seq)
    ids = _TABLES[lowercase][raw]
    _check(raw, ids, lowercase)
    return ids


def soft_mask(seq: str | bytes) -> np.ndarray:
    """Sequence text -> (L,) bool, True at lowercase (soft-masked) positions; no validation (``encode`` does it)."""
    return _LOWER[_as_bytes(seq)]


def encode_with_mask(seq: str | bytes) -> tuple[np.ndarray, np.ndarray]:
    """Sequence text -> (ids (L,) uint8, mask (L,) bool), mask True at lowercase (soft-masked) positions."""
    return encode(seq, "upper"), soft_mask(seq)


def _numpy(ids) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        return ids.detach().cpu().numpy()
    return np.asarray(ids)


def decode(ids) -> str:
    """Token ids (L,) (numpy, torch or a list) -> sequence text; PAD -> '-', MASK -> '#'."""
    arr = _numpy(ids)
    if arr.ndim != 1:
        raise ValueError(f"decode takes one sequence (1-D ids), got shape {arr.shape}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= VOCAB_SIZE):
        raise ValueError(f"token ids must lie in [0, {VOCAB_SIZE}), got {arr.min()}..{arr.max()}")
    return _SYMBOL_BYTES[arr].tobytes().decode("ascii")


Ids = TypeVar("Ids", np.ndarray, torch.Tensor)


def _complement(ids: Ids) -> Ids:
    if isinstance(ids, torch.Tensor):
        table = torch.as_tensor(_COMPLEMENT, device=ids.device).to(ids.dtype)
        return table[ids.long()]
    return _COMPLEMENT[ids].astype(ids.dtype, copy=False)


def reverse_complement(ids: Ids) -> Ids:
    """Reverse complement of token ids (..., L): A<->T, C<->G, N, PAD and MASK unchanged, reversed along
    the last axis. Same type, dtype and device as ``ids``; an involution."""
    if isinstance(ids, torch.Tensor):
        return _complement(ids.flip(-1))
    ids = np.asarray(ids)
    return _complement(ids[..., ::-1])


def reverse_complement_padded(ids: Ids, lengths) -> Ids:
    """Reverse complement of each row's first ``lengths[i]`` tokens of ids (b, L); the padding after them
    stays where it is. ``lengths`` (b,) of the same kind as ``ids``; an involution for fixed lengths."""
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 2:
            raise ValueError(f"ids must be (batch, L), got shape {tuple(ids.shape)}")
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        lengths = torch.as_tensor(lengths, device=ids.device).long().unsqueeze(1)
        src = torch.where(pos < lengths, lengths - 1 - pos, pos)
        return _complement(torch.gather(ids, 1, src))
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"ids must be (batch, L), got shape {ids.shape}")
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (ids.shape[0],) or (lengths < 0).any() or (lengths > ids.shape[1]).any():
        raise ValueError(f"lengths must be (batch,) = ({ids.shape[0]},) with values in [0, {ids.shape[1]}]")
    pos = np.arange(ids.shape[1])[None, :]
    src = np.where(pos < lengths[:, None], lengths[:, None] - 1 - pos, pos)
    return _complement(np.take_along_axis(ids, src, axis=1))


def crop_or_pad(ids: Ids, length: int, rng: np.random.Generator | int | None = None,
                mode: str = "random") -> Ids:
    """Ids (L,) -> exactly ``length`` tokens. Longer: a window chosen by ``mode`` ("random": uniform start
    drawn from ``rng``, a Generator or a seed (None: fresh entropy); "center"; "left": the first
    ``length``). Shorter: PAD appended at the end. A crop may share memory with ``ids``."""
    if mode not in ("random", "center", "left"):
        raise ValueError(f"mode must be 'random', 'center' or 'left', got {mode!r}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    n = ids.shape[-1]
    if n > length:
        if mode == "left":
            start = 0
        elif mode == "center":
            start = (n - length) // 2
        else:
            rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
            start = int(rng.integers(0, n - length + 1))
        return ids[..., start:start + length]
    if n == length:
        return ids
    if isinstance(ids, torch.Tensor):
        return torch.nn.functional.pad(ids, (0, length - n), value=PAD)
    ids = np.asarray(ids)
    widths = [(0, 0)] * (ids.ndim - 1) + [(0, length - n)]
    return np.pad(ids, widths, constant_values=PAD)


def pad_batch(seqs: list[np.ndarray], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of ids -> (ids (b, length) uint8 padded with PAD at the end, lengths (b,) int64).
    ``length`` defaults to the longest; longer sequences are cut at the right."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    width = int(lengths.max(initial=0)) if length is None else length
    out = np.full((len(seqs), width), PAD, dtype=np.uint8)
    for row, s in enumerate(seqs):
        out[row, :min(len(s), width)] = s[:width]
    return out, np.minimum(lengths, width)


def pack(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of ids -> (flat (T,) laid end to end, cu_seqlens (n+1,) int32 = [0, l0, l0+l1, ...]).
    For the core kernels: ``ssmkit.kernels.packing.seq_idx_from_cu_seqlens(torch.from_numpy(cu_seqlens))``."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    cu_seqlens = np.zeros(len(seqs) + 1, dtype=np.int32)
    np.cumsum(lengths, out=cu_seqlens[1:])
    flat = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.uint8)
    return flat, cu_seqlens
