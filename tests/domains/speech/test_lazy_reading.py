"""Speech data never read whole: list files and manifests a line at a time, audio decoded per item when the
collection is large (cache=None above CACHE_MAX_BYTES, or cache=False)."""


import numpy as np
import pytest
import ssmkit_speech.data as speech_data
from ssmkit_speech.data import SpeechDataModule
from ssmkit_speech.layouts import read_manifest, read_speech_commands
from ssmkit_speech.listing import utf8_lines

from ssmkit.errors import DataError


def test_list_files_by_line_match_the_whole_text(tmp_path, request):
    path = tmp_path / "list.txt"
    path.write_bytes("a/x.wav\r\nb/y.wav\rc/\u00e9.wav\x0bd.wav\n\nlast".encode())
    expected = path.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nline two\n\xff\n")
    with pytest.raises(UnicodeDecodeError) as whole:
        bad.read_text(encoding="utf-8")
    request.getfixturevalue("no_whole_file_reads")
    assert list(utf8_lines(path)) == expected
    at = whole.value.start  # the offset in the file, as decoding the whole text reports it
    with pytest.raises(DataError, match=rf"bad\.txt: not UTF-8 text \(invalid start byte at byte {at}\)"):
        list(utf8_lines(bad))


def test_layouts_read_row_by_row(tmp_path, tone_folders, request):
    (tone_folders / "validation_list.txt").write_text("low/spk1_nohash_0.wav\n")
    (tone_folders / "testing_list.txt").write_text("high/spk2_nohash_1.flac\n")
    files = sorted(tone_folders.rglob("*.wav"))[:6]
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "".join(f"{f.relative_to(tmp_path)},{f.parent.name}\n" for f in files))
    request.getfixturevalue("no_whole_file_reads")
    clips = read_speech_commands(tone_folders)
    assert sum(c.split == "val" for c in clips) == 1 and sum(c.split == "test" for c in clips) == 1
    assert [c.path for c in read_manifest(manifest)] == files


@pytest.mark.parametrize("cache, limit, upfront", [(None, 1 << 30, True), (None, 0, False), (False, 1 << 30, False)])
def test_audio_is_decoded_per_item_unless_small(tone_folders, monkeypatch, cache, limit, upfront):
    monkeypatch.setattr(speech_data, "CACHE_MAX_BYTES", limit)
    calls = []
    real = speech_data.read_audio
    monkeypatch.setattr(speech_data, "read_audio", lambda path, *a: calls.append(path) or real(path, *a))
    dm = SpeechDataModule(root=str(tone_folders), sample_rate=8000, clip_seconds=0.5, cache=cache, seed=0)
    dm.setup()
    assert len(calls) == (len(dm.clips) if upfront else 0)
    calls.clear()
    item = dm.train_set[3]
    assert len(calls) == (0 if upfront else 1) and item["x"].shape == (4000,)
    if not upfront:  # the same samples as decoding up front
        eager = SpeechDataModule(root=str(tone_folders), sample_rate=8000, clip_seconds=0.5, cache=True, seed=0)
        eager.setup()
        np.testing.assert_array_equal(eager.val_set[0]["x"].numpy(), dm.val_set[0]["x"].numpy())
