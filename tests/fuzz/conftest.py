"""Fuzzing the readers: mutations of valid seed files, one checked reader call, and the survival table.

Every reader gets truncated, bit-flipped, shuffled and garbage-padded versions of small valid files (written by
the tests, and a few real ones from ../shared/data where present). Each call must return, or raise an
``SSMKitError`` whose message is one line naming the file; nothing else may escape, no call may hang, and the
input files must be unchanged afterwards. ``SSMKIT_FUZZ_EXAMPLES=N`` runs N examples per reader instead of the
CI sizes (derandomized: the same inputs on every run); ``SSMKIT_FUZZ_TIMEOUT`` is the per-call limit in seconds;
``SSMKIT_FUZZ_VERBOSE=1`` (with ``-s``) prints every error message the readers gave.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import struct
from collections import Counter
from pathlib import Path

import pytest

from ssmkit.errors import SSMKitError

try:
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import strategies as st
except ImportError:  # the test modules skip themselves (pytest.importorskip) with the reason
    st = None

EXAMPLES_ENV = "SSMKIT_FUZZ_EXAMPLES"
HANG_SECONDS = float(os.environ.get("SSMKIT_FUZZ_TIMEOUT", "20"))
VERBOSE = bool(os.environ.get("SSMKIT_FUZZ_VERBOSE"))  # print every clean error's message (run with -s)

# reader name -> Counter(inputs, loaded, clean errors); printed at the end of the session
SURVIVAL: dict[str, Counter] = {}


def fuzz_settings(examples: int, deadline_ms: int = 10_000):
    """Hypothesis settings for one reader: ``examples`` inputs (or $SSMKIT_FUZZ_EXAMPLES), reproducible. The
    deadline flags a slow input; a hang is cut by ``time_limit`` (HANG_SECONDS) in ``attempt``."""
    n = int(os.environ.get(EXAMPLES_ENV) or examples)
    return settings(max_examples=n, deadline=deadline_ms, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=list(HealthCheck), phases=[p for p in Phase if p.name != "explain"])


# --------------------------------------------------------------------------------------------- mutations

# byte strings that parsers tend to trip on: separators, markers, odd numbers, broken UTF-8
TOKENS = [b"", b"\x00", b"\xff", b"\xff\xfe", b"\xc3", b"\xe2\x82", "\u00e9".encode(), b"\n", b"\r\n", b"\r", b" ",
          b"\t", b",", b";", b'"', b"'", b"#", b"::", b":", b">", b"@", b"+", b"-", b"=", b"[", b"{", b"}", b"nan",
          b"inf", b"-inf", b"-1", b"0", b"1e999", b"99999999999999999999", b"4294967295", b"3.5", b"NA", b"null",
          b"\\", b"%", b"!", b"ply", b"OFF", b"DATA", b"end_header", b"LOCUS", b"//"]
NUMBERS = [b"0", b"1", b"-1", b"2", b"3", b"7", b"255", b"65536", b"2147483648", b"99999999999", b"1e400", b"nan",
           b"-5", b"3.5", b"", b"x"]
WORDS = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 20]


def _pos(draw, data: bytes, end: bool = False) -> int:
    """A position in ``data``, half the time among its first 64 bytes (where headers are)."""
    top = len(data) if end else max(len(data) - 1, 0)
    return draw(st.one_of(st.integers(0, min(top, 64)), st.integers(0, top)))


def _truncate(draw, data: bytes) -> bytes:
    return data[:draw(st.integers(0, max(len(data) - 1, 0)))]


def _flip_bits(draw, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[_pos(draw, data)] ^= 1 << draw(st.integers(0, 7))
    return bytes(out)


def _set_bytes(draw, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        out[_pos(draw, data)] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x0A, 0x20, 0x2C])
                                     | st.integers(0, 255))
    return bytes(out)


def _set_word(draw, data: bytes) -> bytes:
    """Overwrite 4 bytes (a length or count field of a binary header) with an odd integer."""
    if len(data) < 4:
        return data
    at = _pos(draw, data[:-3])
    word = struct.pack(draw(st.sampled_from(["<I", ">I"])), draw(st.sampled_from(WORDS)))
    return data[:at] + word + data[at + 4:]


def _insert(draw, data: bytes) -> bytes:
    blob = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=64))
    at = _pos(draw, data, end=True)
    return data[:at] + blob + data[at:]


def _delete(draw, data: bytes) -> bytes:
    if not data:
        return data
    at = _pos(draw, data)
    return data[:at] + data[at + draw(st.integers(1, 256)):]


def _duplicate(draw, data: bytes) -> bytes:
    if not data:
        return data
    at = _pos(draw, data)
    chunk = data[at:at + draw(st.integers(1, 256))]
    to = _pos(draw, data, end=True)
    return data[:to] + chunk + data[to:]


def _renumber(draw, data: bytes) -> bytes:
    """Replace one decimal number of a text (a count, an index, a value) with an odd one."""
    found = list(re.finditer(rb"\d+(\.\d+)?", data[:1 << 16]))
    if not found:
        return data
    m = found[draw(st.integers(0, len(found) - 1))]
    return data[:m.start()] + draw(st.sampled_from(NUMBERS)) + data[m.end():]


def _swap_lines(draw, data: bytes) -> bytes:
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _shuffle_lines(draw, data: bytes) -> bytes:
    lines = data.split(b"\n")
    random.Random(draw(st.integers(0, 2**32 - 1))).shuffle(lines)
    return b"\n".join(lines)


def _shuffle_chunks(draw, data: bytes) -> bytes:
    size = draw(st.sampled_from([4, 16, 64, 512]))
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    random.Random(draw(st.integers(0, 2**32 - 1))).shuffle(chunks)
    return b"".join(chunks)


def _empty(draw, data: bytes) -> bytes:
    return b""


MUTATIONS = {"truncate": _truncate, "flip_bits": _flip_bits, "set_bytes": _set_bytes, "set_word": _set_word,
             "insert": _insert, "delete": _delete, "duplicate": _duplicate, "renumber": _renumber,
             "swap_lines": _swap_lines, "shuffle_lines": _shuffle_lines, "shuffle_chunks": _shuffle_chunks,
             "empty": _empty}


def mutated(seeds: bytes | list[bytes], max_ops: int = 3):
    """A strategy: one of ``seeds`` (valid files' bytes) with 1..max_ops mutations applied in turn."""
    seeds = [seeds] if isinstance(seeds, bytes) else list(seeds)
    names = sorted(MUTATIONS)

    @st.composite
    def build(draw) -> bytes:
        data = seeds[draw(st.integers(0, len(seeds) - 1))]
        for _ in range(draw(st.sampled_from([1, 1, 1] + list(range(2, max_ops + 1))))):  # mostly one
            data = MUTATIONS[draw(st.sampled_from(names))](draw, data)
        return data

    return build()


# --------------------------------------------------------------------------------------------- checked calls


class Hang(BaseException):
    """A reader call ran past HANG_SECONDS (a BaseException, so no reader's ``except Exception`` hides it)."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    def _alarm(signum, frame):
        raise Hang(f"{what}: no answer after {seconds:g} s (hangs?)")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def snapshot(path: Path) -> dict[str, bytes]:
    """The bytes of ``path`` and the names of the files beside it, or the bytes of every file under it (a folder):
    reading must neither change the input nor leave files (temporaries, caches) next to it."""
    path = Path(path)
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    beside = "\n".join(sorted(p.name for p in path.parent.iterdir() if p.is_file())).encode()
    return {"": path.read_bytes() if path.exists() else b"", "<files beside it>": beside}


def attempt(reader: str, call, watched: Path | list[Path], loaded=None, named: str | None = None):
    """Call ``call()`` once and return ``(outcome, result)``: "loaded" (then ``loaded(result)`` checks what came
    back) or "clean errors" (an SSMKitError, one line, naming ``named``, default the first watched path). Any
    other exception, a hang or a change to a watched file fails the test."""
    watched = [Path(w) for w in (watched if isinstance(watched, list) else [watched])]
    named = str(watched[0]) if named is None else named
    before = [snapshot(w) for w in watched]
    result = None
    try:
        with time_limit(HANG_SECONDS, reader):
            result = call()
    except Hang as exc:  # reported like any failure, with the input that caused it and where it stopped
        raise AssertionError(str(exc)) from exc
    except SSMKitError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, f"{reader}: the message is not one line: {message!r}"
        assert named in message, f"{reader}: the message does not name {named}: {message!r}"
        outcome = "clean errors"
        if VERBOSE:
            print(f"{reader}: {message}")
    except Exception as exc:  # the point of the exercise: nothing but SSMKitError may escape a reader
        raise AssertionError(f"{reader}: {type(exc).__name__} escaped (not an SSMKitError): {exc}") from exc
    else:
        outcome = "loaded"
        if loaded is not None:
            loaded(result)
    for w, snap in zip(watched, before):
        assert snapshot(w) == snap, f"{reader}: reading changed the input {w} or the files beside it"
    counts = SURVIVAL.setdefault(reader, Counter())
    counts["inputs"] += 1
    counts[outcome] += 1
    return outcome, result


class Seeds(dict):
    """Seed files' bytes by kind, from a fixture; a short repr keeps Hypothesis's failure reports readable."""

    def __repr__(self) -> str:
        return f"Seeds({', '.join(self)})"


def write_input(folder: Path, name: str, data: bytes) -> Path:
    """``data`` as ``folder/name`` (replacing the previous example's file)."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def fuzz_dir(tmp_path_factory) -> Path:
    """A fresh folder for one fuzz test's inputs (tmp_path_factory: Hypothesis reuses it across examples)."""
    return tmp_path_factory.mktemp("fuzz")


def pytest_terminal_summary(terminalreporter):
    if not SURVIVAL:
        return
    terminalreporter.write_sep("-", "fuzz: inputs each reader survived")
    width = max(len(name) for name in SURVIVAL)
    for name in sorted(SURVIVAL):
        c = SURVIVAL[name]
        terminalreporter.write_line(f"{name:<{width}}: {c['inputs']} inputs, {c['loaded']} loaded, "
                                    f"{c['clean errors']} clean errors")
