"""UTF-8 list files (Speech Commands' validation_list.txt / testing_list.txt) read a line at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ssmkit.errors import DataError

__all__ = ["utf8_lines"]


def utf8_lines(path: str | Path) -> Iterator[str]:
    """The lines ``Path(path).read_text(encoding="utf-8").splitlines()`` gives, read one line at a time; a byte
    that is not UTF-8 -> DataError naming its offset in the file, as decoding the whole text would."""
    offset = 0
    with open(path, "rb") as handle:
        for raw in handle:  # a newline byte never falls inside a UTF-8 character: lines decode on their own
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"not UTF-8 text ({exc.reason} at byte {offset + exc.start})", path=path) from None
            yield from text.splitlines()
            offset += len(raw)
