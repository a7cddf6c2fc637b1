"""Audio collections in the layouts people use -> a list of ``Clip`` (file, label, speaker, index, split).

* ``read_folders``: ``root/<label>/**/*.wav|flac`` (folders starting with "_" or "." are skipped);
* ``read_speech_commands``: the Speech Commands layout ``root/<word>/<speaker>_nohash_<n>.wav`` with its
  ``validation_list.txt`` / ``testing_list.txt`` (every other clip is training); ``_background_noise_`` skipped;
* ``read_manifest``: a CSV with columns path,label[,speaker][,split] (paths relative to the CSV's folder);
* ``read_pattern``: labels and speakers from file names, e.g. ``{label}_{speaker}_{index}`` (FSDD).

Every problem is a one-line DataError naming the file (and line, for list files and manifests).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from ssmkit.errors import ConfigError, DataError

from .audio import is_audio
from .listing import utf8_lines

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str | None = None
    speaker: str | None = None
    index: int | None = None
    split: str | None = None  # "train" / "val" / "test" when the layout fixes it


def _folder(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataError("not a folder" if root.exists() else "no such folder", path=root)
    return root


def _audio_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_audio(p))


def read_folders(root: str | Path) -> list[Clip]:
    """One folder per class: ``root/<label>/...`` -> clips (label = the folder's name)."""
    root = _folder(root)
    clips = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        clips += [Clip(p, folder.name) for p in _audio_under(folder)]
    if not clips:
        raise DataError("no WAV/FLAC files in class folders (expected root/<label>/*.wav)", path=root)
    return clips


def _speech_commands_speaker(path: Path) -> str:
    return path.stem.split("_nohash_")[0] if "_nohash_" in path.stem else path.stem


def read_speech_commands(root: str | Path) -> list[Clip]:
    """The Speech Commands layout: word folders and the two list files fixing validation and test."""
    root = _folder(root)
    fixed: dict[str, str] = {}
    for name, split in (("validation_list.txt", "val"), ("testing_list.txt", "test")):
        listing = root / name
        if not listing.exists():
            raise DataError(f"missing {name} (the Speech Commands layout needs validation_list.txt and "
                            "testing_list.txt; use layout='folders' for plain class folders)", path=listing)
        for line_no, line in enumerate(utf8_lines(listing), 1):  # a line at a time, never the whole file
            rel = line.strip()
            if not rel:
                continue
            if not (root / rel).is_file():
                raise DataError(f"lists {rel!r}, which is not a file under {root}", path=listing, line=line_no)
            if fixed.get(rel, split) != split:
                raise DataError(f"{rel!r} is in both the validation and the test list", path=listing, line=line_no)
            fixed[rel] = split
    clips = []
    for clip in read_folders(root):
        rel = clip.path.relative_to(root).as_posix()
        clips.append(Clip(clip.path, clip.label, _speech_commands_speaker(clip.path), None, fixed.get(rel, "train")))
    return clips


def read_manifest(path: str | Path) -> list[Clip]:
    """CSV with a header: path,label[,speaker][,split]; relative paths start at the CSV's folder."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such manifest file", path=path)
    try:
        return _manifest_rows(path)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except csv.Error as exc:  # e.g. a field over csv's size limit
        raise DataError(f"malformed CSV: {exc}", path=path) from None


def _manifest_rows(path: Path) -> list[Clip]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "path" not in columns:
            raise DataError(f"the header needs a 'path' column (has {columns})", path=path, line=1)
        clips = []
        for line_no, row in enumerate(reader, 2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if not row.get("path"):
                raise DataError("empty path", path=path, line=line_no, column="path")
            split = row.get("split") or None
            if split is not None and split not in SPLITS:
                raise DataError(f"split {split!r}: use one of {', '.join(SPLITS)}", path=path, line=line_no,
                                column="split")
            if "label" in columns and not row.get("label"):
                raise DataError("empty label", path=path, line=line_no, column="label")
            file = Path(row["path"])
            file = file if file.is_absolute() else path.parent / file
            if not file.is_file():
                raise DataError(f"names {row['path']!r}, which is not a file", path=path, line=line_no, column="path")
            clips.append(Clip(file, row.get("label") or None, row.get("speaker") or None, None, split))
    if not clips:
        raise DataError("no rows", path=path)
    return clips


def pattern_regex(pattern: str) -> re.Pattern:
    """``{label}_{speaker}_{index}`` -> a regex over the file's stem (fields: label, speaker, index)."""
    fields = re.findall(r"{(\w+)}", pattern)
    unknown = set(fields) - {"label", "speaker", "index", "any"}
    if "label" not in fields or unknown:
        raise ConfigError(f"file-name pattern {pattern!r}: needs {{label}}; fields allowed: label, speaker, index, any")
    regex = ""
    for literal, field in re.findall(r"([^{]*)(?:{(\w+)})?", pattern):
        regex += re.escape(literal)
        if field == "index":
            regex += r"(?P<index>\d+)"
        elif field == "any":
            regex += r".*?"
        elif field:
            regex += rf"(?P<{field}>[^/]+?)"
    return re.compile(regex + "$")


def read_pattern(root: str | Path, pattern: str = "{label}_{speaker}_{index}") -> list[Clip]:
    """Audio files directly in (or below) ``root`` whose stems match ``pattern``; non-audio files are ignored,
    an audio file that does not match is an error."""
    root = _folder(root)
    regex = pattern_regex(pattern)
    clips = []
    for file in _audio_under(root):
        match = regex.match(file.stem)
        if match is None:
            raise DataError(f"file name does not match the pattern {pattern!r}", path=file)
        parts = match.groupdict()
        clips.append(Clip(file, parts["label"], parts.get("speaker"),
                          int(parts["index"]) if parts.get("index") else None))
    if not clips:
        raise DataError(f"no WAV/FLAC files named like {pattern!r}", path=root)
    return clips


def list_audio(path: str | Path) -> list[Clip]:
    """Unlabelled clips for prediction: one audio file, a folder of them (recursive), or a manifest CSV."""
    path = Path(path)
    if path.is_dir():
        files = _audio_under(path)
        if not files:
            raise DataError("no WAV/FLAC files", path=path)
        return [Clip(f) for f in files]
    if path.suffix.lower() == ".csv":
        return read_manifest(path)
    if not path.exists():
        raise DataError("no such file or folder", path=path)
    return [Clip(path)]


__all__ = ["Clip", "read_folders", "read_speech_commands", "read_manifest", "read_pattern", "pattern_regex",
           "list_audio"]
