"""Layouts (class folders, Speech Commands, CSV manifest, file-name pattern) and splits (lists, random, speaker,
FSDD's usual one) on small files the tests write."""

import numpy as np
import pytest
import torch
from ssmkit_speech.data import SpeechDataModule, speaker_split
from ssmkit_speech.layouts import pattern_regex, read_folders, read_manifest, read_pattern, read_speech_commands

from ssmkit.errors import ConfigError, DataError

from .conftest import WORDS, tone


def _lists(root, val, test):
    (root / "validation_list.txt").write_text("".join(f"{p}\n" for p in val))
    (root / "testing_list.txt").write_text("".join(f"{p}\n" for p in test))


def test_folders_and_speech_commands_layouts(tone_folders, write_audio):
    write_audio(tone_folders / "_background_noise_" / "noise.wav", tone(50, 16000, 1.0), 16000)
    clips = read_folders(tone_folders)
    assert len(clips) == 36 and {c.label for c in clips} == set(WORDS)
    with pytest.raises(DataError, match="validation_list.txt"):
        read_speech_commands(tone_folders)
    _lists(tone_folders, ["low/spk1_nohash_0.wav", "mid/spk1_nohash_0.wav"], ["high/spk2_nohash_1.flac"])
    clips = read_speech_commands(tone_folders)
    assert len(clips) == 36 and {c.speaker for c in clips} == {f"spk{s}" for s in range(4)}
    assert sum(c.split == "val" for c in clips) == 2 and sum(c.split == "test" for c in clips) == 1
    dm = SpeechDataModule(root=str(tone_folders), sample_rate=8000, clip_seconds=0.5, batch_size=4)
    dm.setup()
    assert dm.split_mode() == "lists" and len(dm.val_set) == 2 and len(dm.test_set) == 1 and len(dm.train_set) == 33
    item = dm.train_set[0]
    assert item["x"].shape == (4000,) and item["mask"].dtype.is_floating_point is False
    _lists(tone_folders, ["low/ghost.wav"], [])
    with pytest.raises(DataError, match=r"validation_list\.txt, line 1: lists 'low/ghost\.wav'"):
        read_speech_commands(tone_folders)


def test_manifest_layout(tmp_path, tone_folders):
    files = sorted(tone_folders.rglob("*.wav"))[:6]
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,speaker\n" + "".join(
        f"{f.relative_to(tmp_path)},{f.parent.name},{f.stem.split('_')[0]}\n" for f in files))
    clips = read_manifest(manifest)
    assert [c.path for c in clips] == files and clips[0].speaker == files[0].stem.split("_")[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nwords/low/spk0_nohash_0.wav,low\nwords/low/nope.wav,low\n")
    with pytest.raises(DataError, match=r"bad\.csv, line 3, column 'path': names 'words/low/nope\.wav'"):
        read_manifest(bad)
    bad.write_text("file,label\nx.wav,low\n")
    with pytest.raises(DataError, match=r"bad\.csv, line 1: the header needs a 'path' column"):
        read_manifest(bad)


def test_pattern_layout(tmp_path, write_audio):
    for d in range(2):
        for spk in ("ann", "bob"):
            for i in range(3):
                write_audio(tmp_path / "fs" / f"{d}_{spk}_{i}.wav", tone(300 + 500 * d, 8000, 0.3, seed=i), 8000)
    (tmp_path / "fs" / "README.txt").write_text("not audio: ignored")
    clips = read_pattern(tmp_path / "fs")
    assert len(clips) == 12 and {(c.label, c.speaker) for c in clips} == {(d, s) for d in "01" for s in ("ann", "bob")}
    assert sorted({c.index for c in clips}) == [0, 1, 2]
    assert pattern_regex("{speaker}-{label}").match("mary-yes").groupdict() == {"speaker": "mary", "label": "yes"}
    write_audio(tmp_path / "fs" / "odd.wav", tone(300, 8000, 0.3), 8000)
    with pytest.raises(DataError, match=r"odd\.wav: file name does not match"):
        read_pattern(tmp_path / "fs")
    with pytest.raises(ConfigError):
        pattern_regex("{speaker}_{index}")


def test_speaker_split_has_no_speaker_in_two_splits():
    rng = np.random.default_rng(0)
    speakers = [f"s{int(k)}" for k in rng.integers(0, 12, 500)]
    for seed in range(5):
        parts = speaker_split(speakers, None, None, 0.2, 0.2, seed)
        groups = [{speakers[i] for i in p} for p in parts]
        assert sum(len(p) for p in parts) == 500 and all(groups)
        assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    train, val, test = speaker_split(speakers, ["s3"], ["s4", "s5"], 0.2, 0.2, 0)
    assert {speakers[i] for i in test} == {"s3"} and {speakers[i] for i in val} == {"s4", "s5"}
    with pytest.raises(ConfigError, match="unknown speaker 'zed'"):
        speaker_split(speakers, ["zed"], None, 0.2, 0.2, 0)
    with pytest.raises(ConfigError, match="needs a speaker"):
        speaker_split(["a", None], None, None, 0.5, 0.0, 0)


def test_data_module_speaker_random_and_rate_policy(tone_folders):
    dm = SpeechDataModule(root=str(tone_folders), layout="folders", split="random", sample_rate=8000,
                          clip_seconds=0.5, val_fraction=0.2, test_fraction=0.2)
    dm.setup()
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 36
    assert dm.classes == sorted(WORDS) and dm.source.startswith("real: words")
    dm = SpeechDataModule(root=str(tone_folders), layout="folders", split="speaker",
                          sample_rate=8000, clip_seconds=0.5, test_speakers=["spk0"], val_speakers=["spk1"])
    with pytest.raises(ConfigError, match="needs a speaker"):  # plain class folders carry no speaker
        dm.setup()
    _lists(tone_folders, [], [])
    dm = SpeechDataModule(root=str(tone_folders), split="speaker", sample_rate=8000, clip_seconds=0.5,
                          test_speakers=["spk0"], val_speakers=["spk1"], cache=False)
    dm.setup()
    assert dm.split_speakers == {"train": ["spk2", "spk3"], "val": ["spk1"], "test": ["spk0"]}
    # val_speakers=[]: train on every other speaker, validate on a stratified share of their clips
    own = SpeechDataModule(root=str(tone_folders), split="speaker", sample_rate=8000, clip_seconds=0.5,
                           test_speakers=["spk0"], val_speakers=[], val_fraction=0.34, cache=False)
    own.setup()
    assert own.split_speakers["test"] == ["spk0"] and own.split_speakers["train"] == ["spk1", "spk2", "spk3"]
    assert set(own.split_speakers["val"]) <= {"spk1", "spk2", "spk3"}
    ys = [int(own.val_set[i]["y"]) for i in range(len(own.val_set))]
    assert len(own.test_set) == 9 and len(own.train_set) + len(own.val_set) == 27
    assert sorted(set(ys)) == list(range(len(WORDS))) and len(ys) == 3 * len(WORDS)  # a third of each word
    batch = next(iter(dm.test_dataloader()))
    assert batch["x"].shape == (min(32, 9), 4000) and batch["mask"][:, 0].all()
    strict = SpeechDataModule(root=str(tone_folders), sample_rate=8000, on_rate_mismatch="error")
    with pytest.raises(DataError, match="expected 8000 Hz"):
        strict.setup()


def test_one_bad_file_stops_setup_with_its_name(tone_folders):
    (tone_folders / "mid" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    dm = SpeechDataModule(root=str(tone_folders), layout="folders", sample_rate=8000)
    with pytest.raises(DataError, match=r"broken\.wav: cannot read audio"):
        dm.setup()


def test_variable_length_batches_pad_to_the_longest_clip_and_match_each_clip_alone(tone_folders):
    from ssmkit_speech.task import build_net

    dm = SpeechDataModule(root=str(tone_folders), layout="folders", split="random", sample_rate=8000,
                          clip_seconds=0.45, val_fraction=0.2, test_fraction=0.2, variable_length=True, batch_size=6)
    dm.setup()
    batch = next(iter(dm.test_dataloader()))
    items = [dm.test_set[i] for i in range(len(batch["x"]))]
    lengths = [item["x"].shape[-1] for item in items]
    # tone clips are 0.3-0.5 s: shorter ones keep their length, longer ones are cropped to 0.45 s (3,600 samples)
    assert max(lengths) <= 3600 and min(lengths) < max(lengths) and batch["x"].shape == (len(items), max(lengths))
    assert batch["mask"].sum(1).tolist() == lengths and batch["index"].tolist() == [it["index"] for it in items]
    torch.manual_seed(0)
    net = build_net("raw", 3, 8000, d_model=8, n_layers=1).eval()
    with torch.no_grad():
        together = net(batch["x"], batch["mask"])
        alone = torch.cat([net(item["x"][None]) for item in items])
    assert torch.allclose(together, alone, atol=1e-5)
    train = next(iter(dm.train_dataloader()))
    assert train["x"].shape[1] == int(train["mask"].sum(1).max()) <= 3600


def test_window_set_covers_each_file_and_reads_alike_kept_or_not(tmp_path, write_audio):
    from ssmkit_speech.data import WindowSet
    from ssmkit_speech.layouts import Clip

    rate = 8000
    short = write_audio(tmp_path / "a_short.wav", tone(300, rate, 0.3), rate)
    long = write_audio(tmp_path / "b_long.wav", tone(900, rate, 1.3, seed=1), rate)
    clips = [Clip(short), Clip(long)]
    kept = WindowSet(clips, 4000, 2000, rate, "resample", "peak", keep=True)
    lazy = WindowSet(clips, 4000, 2000, rate, "resample", "peak", keep=False)
    # the short file is one padded window; the long one every 2,000 samples, the last ending at its end
    assert kept.windows == [(0, 0), (1, 0), (1, 2000), (1, 4000), (1, 6000), (1, 6400)] == lazy.windows
    assert kept.samples == [2400, 10400]
    for k in range(len(kept)):
        a, b = kept[k], lazy[k]
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["mask"], b["mask"]) and a["silent"] == b["silent"]
    assert int(kept[0]["mask"].sum()) == 2400 and bool(kept[5]["mask"].all())
    dm = SpeechDataModule(predict_path=str(tmp_path), window_hop=0.25, clip_seconds=0.5)
    dm.fitted = {"classes": ["x", "y"]}
    dm.setup("predict")
    rows = dm.prediction_rows([{"index": k, "label": 0, "probability": 0.5} for k in range(len(dm.predict_set))])
    assert [(r["path"][-11:], r["start"], r["end"]) for r in rows][:2] == [("a_short.wav", 0.0, 0.3),
                                                                           ("/b_long.wav", 0.0, 0.5)]
    assert rows[-1]["end"] == 1.3 and rows[-1]["start"] == 0.8
    with pytest.raises(ConfigError, match="window_hop"):
        SpeechDataModule(root=str(tmp_path), window_hop=0.25).setup("predict")
