"""Interaction logs -> per-user histories in time order, with errors that name the file and line.

Formats (``fmt``; "auto" tells them apart by suffix and content):

* ``lines``: one user per line, ``user item item ...`` in time order (the S3-Rec / ICLRec release, e.g.
  Beauty.txt);
* ``pairs``: one interaction per line, ``user item``, in time order (the SASRec release);
* ``table``: CSV/TSV with a header naming user, item, timestamp and optionally rating columns (Amazon's
  ``user,item,rating,timestamp`` too); rows are sorted by timestamp per user, ties keep file order;
* ``inter``: RecBole atomic files, typed header ``user_id:token item_id:token timestamp:float ...``,
  tab-separated, sorted by timestamp the same way;
* ``movielens``: ``user::item::rating::timestamp`` lines without a header (MovieLens ratings.dat), also
  read from inside the MovieLens zip archive.

Ids are kept as the strings of the file; ``vocab.Vocabulary`` maps them to integers.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from ssmkit.errors import DataError

from .chunked import TextLines

__all__ = ["Histories", "FORMATS", "read_histories", "detect_format", "k_core"]

PathLike = str | os.PathLike
FORMATS = ("auto", "lines", "pairs", "table", "inter", "movielens")
USER_NAMES = ("user", "user_id", "userid", "reviewerid", "uid", "customer_id")
ITEM_NAMES = ("item", "item_id", "itemid", "asin", "iid", "product_id", "movie_id", "business_id")
TIME_NAMES = ("timestamp", "time", "unixreviewtime", "ts", "date", "datetime")
RATING_NAMES = ("rating", "score", "overall", "stars")


@dataclass
class Histories:
    """Per-user item sequences in time order. ``users[i]`` has ``items[i]`` (original id strings);
    ``lines[i]`` is the file line where that user first appears, ``item_lines[i][j]`` the line of item j
    (formats with one interaction per line); ``path`` the file."""

    users: list[str] = field(default_factory=list)
    items: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    path: str = ""
    item_lines: list[list[int]] | None = None

    def line_of(self, user: int, item: int) -> int:
        """The file line of the ``item``-th interaction of the ``user``-th user."""
        return self.item_lines[user][item] if self.item_lines is not None else self.lines[user]

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_interactions(self) -> int:
        return sum(len(h) for h in self.items)

    def subset(self, keep: list[int]) -> Histories:
        return Histories([self.users[i] for i in keep], [self.items[i] for i in keep],
                         [self.lines[i] for i in keep], self.path,
                         None if self.item_lines is None else [self.item_lines[i] for i in keep])


def _existing(path: PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a file", path=path)
    return path


def detect_format(path: PathLike, text: str | TextLines | None = None) -> str:
    """The format of ``path`` by suffix, then by its first non-empty lines."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gz":  # log.csv.gz reads as log.csv
        suffix = Path(path.stem).suffix.lower()
    if suffix == ".inter":
        return "inter"
    if suffix in (".csv", ".tsv"):
        return "table"
    if text is None:
        text = TextLines(path)
    first = [line for line in islice(text.splitlines(), 200) if line.strip()]
    if not first:
        raise DataError("empty file: no interactions", path=path)
    if "::" in first[0]:
        return "movielens"
    if ":token" in first[0] or ":float" in first[0]:
        return "inter"
    if "," in first[0] or ("\t" in first[0] and (_names_a_column(first[0].split("\t"))
                                                 or any(len(line.split("\t")) != 2 for line in first))):
        return "table"  # (only two tab-separated fields a line, none a column name: pairs or lines)
    widths = [len(line.split()) for line in first]
    users = [line.split()[0] for line in first]
    if all(w == 2 for w in widths) and len(set(users)) < len(users):
        return "pairs"  # two fields a line and a user seen twice: one interaction per line
    return "lines"


def _names_a_column(fields: list[str]) -> bool:
    names = USER_NAMES + ITEM_NAMES + TIME_NAMES + RATING_NAMES
    return any(f.strip().strip('"').lower() in names for f in fields)


def read_histories(path: PathLike, fmt: str = "auto", sep: str | None = None) -> Histories:
    """Every user's items in time order from an interaction file (see the module docstring).

    A malformed line, a user without items, or a duplicated user line (``lines`` format) is a DataError
    naming the file and line. ``sep`` overrides the delimiter of ``table`` files.
    """
    if fmt not in FORMATS:
        raise DataError(f"unknown interaction format {fmt!r}; use one of {', '.join(FORMATS)}", path=path)
    path = _existing(path)
    text = TextLines(path)  # read line by line, never whole
    where = text.where
    if fmt == "auto":
        fmt = detect_format(path, text)
    reader = {"lines": _read_lines, "pairs": _read_pairs, "table": _read_table, "inter": _read_inter,
              "movielens": _read_movielens}[fmt]
    hist = reader(text, where, sep) if fmt == "table" else reader(text, where)
    if not len(hist):
        raise DataError(f"no interactions found ({fmt} format)", path=where)
    return hist


# ------------------------------------------------------------------------------------------ formats


def _read_lines(text: str, where: str) -> Histories:
    hist = Histories(path=where)
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        user = fields[0]
        if len(fields) < 2:
            raise DataError(f"user {user!r} has an empty history (expected 'user item item ...')", where, n)
        if user in seen:
            raise DataError(f"user {user!r} appears again (first at line {seen[user]}); this format has one "
                            "line per user", where, n)
        seen[user] = n
        hist.users.append(user)
        hist.items.append(fields[1:])
        hist.lines.append(n)
    return hist


def _group(rows: list[tuple[str, str, float, int]], where: str) -> Histories:
    """(user, item, time, line) rows -> histories; per user sorted by time, ties kept in file order."""
    by_user: dict[str, list[tuple[float, int, str]]] = {}
    for user, item, time, line in rows:
        by_user.setdefault(user, []).append((time, line, item))
    hist = Histories(path=where, item_lines=[])
    for user, events in by_user.items():  # users in order of first appearance
        events.sort(key=lambda e: (e[0], e[1]))  # stable: equal times keep their line order
        hist.users.append(user)
        hist.items.append([e[2] for e in events])
        hist.lines.append(min(e[1] for e in events))
        hist.item_lines.append([e[1] for e in events])
    return hist


def _read_pairs(text: str, where: str) -> Histories:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(f"expected 'user item', got {len(fields)} field(s): {line.strip()[:60]!r}", where, n)
        rows.append((fields[0], fields[1], float(n), n))  # file order is time order
    return _group(rows, where)


def _number(value: str, what: str, where: str, line: int) -> float:
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{what} {value!r} is not a number", where, line) from None


def _find(header: list[str], names: tuple[str, ...], what: str, where: str, required: bool = True) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    if required:
        raise DataError(f"no {what} column in the header {header} (looked for {', '.join(names)})", where, 1)
    return None


def _csv_rows(table, where: str):
    """The rows of a csv.reader; its errors (a field over the size limit, a stray quote...) as DataError."""
    try:
        yield from table
    except csv.Error as exc:
        raise DataError(f"malformed table: {exc}", where, table.line_num) from None


def _read_table(text: str, where: str, sep: str | None = None) -> Histories:
    lines = text.splitlines()
    head = next((line for line in lines if line.strip()), "")
    delimiter = sep or ("\t" if "\t" in head else ",")
    table = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else iter(text), delimiter=delimiter)
    header: list[str] | None = None
    rows = []
    for row in _csv_rows(table, where):
        n = table.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if header is None:
            header = row
            u = _find(header, USER_NAMES, "user", where)
            i = _find(header, ITEM_NAMES, "item", where)
            t = _find(header, TIME_NAMES, "timestamp", where, required=False)
            continue
        if len(row) != len(header):
            raise DataError(f"{len(row)} fields, the header has {len(header)}", where, n)
        user, item = row[u].strip(), row[i].strip()
        if not user or not item:
            raise DataError("empty user or item id", where, n)
        time = _number(row[t].strip(), "timestamp", where, n) if t is not None else float(n)
        rows.append((user, item, time, n))
    return _group(rows, where)


def _read_inter(text: str, where: str) -> Histories:
    rows = []
    header = None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if header is None:
            names = []
            for f in fields:
                name, colon, kind = f.strip().partition(":")
                if not colon or kind not in ("token", "token_seq", "float", "float_seq"):
                    raise DataError(f"RecBole header field {f!r} is not 'name:type' "
                                    "(type token, token_seq, float or float_seq)", where, n)
                names.append(name.lower())
            header = names
            u = _find(header, USER_NAMES, "user", where)
            i = _find(header, ITEM_NAMES, "item", where)
            t = _find(header, TIME_NAMES, "timestamp", where, required=False)
            continue
        if len(fields) != len(header):
            raise DataError(f"{len(fields)} tab-separated fields, the header has {len(header)}", where, n)
        user, item = fields[u].strip(), fields[i].strip()
        if not user or not item:
            raise DataError("empty user or item id", where, n)
        time = _number(fields[t].strip(), "timestamp", where, n) if t is not None else float(n)
        rows.append((user, item, time, n))
    return _group(rows, where)


def _read_movielens(text: str, where: str) -> Histories:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.strip().split("::")
        if len(fields) != 4 or not all(fields):
            raise DataError(f"expected 'user::item::rating::timestamp', got {line.strip()[:60]!r}", where, n)
        rows.append((fields[0], fields[1], _number(fields[3], "timestamp", where, n), n))
    return _group(rows, where)


# ------------------------------------------------------------------------------------------ filtering


def k_core(hist: Histories, k: int) -> Histories:
    """Drop users and items with fewer than ``k`` interactions, repeatedly, until every one left has k."""
    if k <= 1:
        return hist
    items = [list(h) for h in hist.items]
    alive = list(range(len(items)))
    while True:
        counts: dict[str, int] = {}
        for u in alive:
            for it in items[u]:
                counts[it] = counts.get(it, 0) + 1
        changed = False
        for u in alive:
            kept = [it for it in items[u] if counts[it] >= k]
            if len(kept) != len(items[u]):
                items[u], changed = kept, True
        survivors = [u for u in alive if len(items[u]) >= k]
        if len(survivors) != len(alive):
            alive, changed = survivors, True
        if not changed:
            break
    out = Histories(path=hist.path)  # per-item lines are not kept through filtering
    for u in alive:
        out.users.append(hist.users[u])
        out.items.append(items[u])
        out.lines.append(hist.lines[u])
    if not len(out):
        raise DataError(f"no user is left after {k}-core filtering", path=hist.path)
    return out
