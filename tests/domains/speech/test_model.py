"""The networks: shapes, masks, streaming with carried state equal to the whole-clip forward, features against
their definitions."""

import copy
import math

import pytest
import torch
from ssmkit_speech.features import Framer, LogMel, dct_matrix, mel_filterbank, spec_augment
from ssmkit_speech.task import SpeechClassifier, build_net

from ssmkit.errors import ConfigError


@pytest.mark.parametrize("model", ["spectrogram", "raw", "spectrogram+cmn", "spectrogram+freq_conv"])
@pytest.mark.parametrize("mixer", ["s4d", "mamba"])
def test_streaming_in_chunks_equals_the_whole_clip(model, mixer):
    torch.manual_seed(0)
    extra = {"cmn": {"cmn": 10.0}, "freq_conv": {"freq_conv": 4}}.get(model.partition("+")[2], {})
    net = build_net(model.split("+")[0], 5, 8000, d_model=16, n_layers=1, mixer=mixer, d_state=8,
                    pools=[1, 2] if model == "raw" else None, **extra).eval()
    wave = torch.randn(2, 2400) * 0.3
    full = net(wave)
    for chunk in (160, 77, 1000):  # 20 ms, a size that matches no hop, and a long one
        state = net.stream_start(2)
        for start in range(0, wave.shape[1], chunk):
            net.stream_push(wave[:, start:start + chunk], state)
        torch.testing.assert_close(net.stream_logits(state), full, atol=2e-5, rtol=1e-4)


def test_bidirectional_models_refuse_to_stream():
    net = build_net("raw", 3, 8000, d_model=8, n_layers=1, bidirectional=True)
    assert not net.causal and net(torch.randn(1, 800)).shape == (1, 3)
    with pytest.raises(ConfigError, match="causal"):
        net.stream_start()
    with pytest.raises(ConfigError, match="bidirectional"):
        SpeechClassifier(num_classes=3, bidirectional=True, streaming=True)


def test_padding_is_masked_out_of_the_pooled_features():
    torch.manual_seed(0)
    net = build_net("spectrogram", 4, 8000, d_model=16, n_layers=1).eval()
    clip = torch.randn(1, 1600) * 0.3
    padded = torch.cat([clip, torch.zeros(1, 2400)], dim=1)
    mask = torch.arange(4000).unsqueeze(0) < 1600
    torch.testing.assert_close(net(padded, mask), net(clip), atol=1e-5, rtol=1e-4)
    assert net.hop == 80 and build_net("raw", 4, 16000, d_model=8, n_layers=1).hop == 32 * 4


def test_framer_is_causal_and_chunkable():
    framer = Framer(win=6, hop=2)
    wave = torch.arange(1.0, 12.0).unsqueeze(0)
    frames = framer.frames(wave)
    assert frames.shape == (1, 5, 6)
    assert frames[0, 0].tolist() == [0, 0, 0, 0, 1, 2] and frames[0, 4].tolist() == [5, 6, 7, 8, 9, 10]
    carried, got = framer.start(1), []
    for piece in wave.split(3, dim=1):
        f, carried = framer.push(carried, piece)
        got.append(f)
    assert torch.equal(torch.cat(got, dim=1), frames)


def test_log_mel_and_mfcc_follow_their_definitions():
    fb = mel_filterbank(256, 20, 8000)
    assert fb.shape == (129, 20) and float(fb.max()) <= 1.0 and (fb.sum(0) > 0).all()
    d = dct_matrix(13, 20)
    torch.testing.assert_close(d.t() @ d, torch.eye(13), atol=1e-5, rtol=0)  # orthonormal columns
    mel = LogMel(8000, 200, n_mels=20)
    t = torch.arange(200) / 8000
    frames = torch.sin(2 * math.pi * 1000 * t).view(1, 1, 200)
    out = mel(frames)
    centres = 700 * (10 ** (torch.linspace(float(2595 * math.log10(1 + 20 / 700)), 2595 * math.log10(1 + 4000 / 700),
                                           22)[1:-1] / 2595) - 1)
    assert int(out[0, 0].argmax()) == int((centres - 1000).abs().argmin())  # energy in the band around 1 kHz
    assert LogMel(8000, 200, n_mels=20, n_mfcc=13)(frames).shape == (1, 1, 13)


def test_spec_augment_masks_bands_and_frames():
    x = torch.ones(4, 50, 40)
    y = spec_augment(x, freq_masks=1, freq_width=8, time_masks=1, time_width=10,
                     generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and 0 < float((y == 0).float().mean()) < 0.5


def test_classifier_steps_and_predicts_rows():
    task = SpeechClassifier(num_classes=3, model="raw", d_model=8, n_layers=1, streaming=True, chunk_ms=20)
    batch = {"x": torch.randn(2, 4000) * 0.3, "mask": torch.arange(4000).expand(2, -1) < 3000,
             "y": torch.tensor([0, 2]), "index": torch.tensor([5, 7])}
    loss = task.training_step(batch, 0) if task._trainer else task.compute_loss(task(batch["x"], mask=batch["mask"]),
                                                                                   batch)
    loss.backward()
    task.eval()
    rows = task.predict_step(batch, 0)
    assert [r["index"] for r in rows] == [5, 7] and all(0 < r["probability"] <= 1 for r in rows)
    assert len(task.latencies) == 2 * math.ceil(3000 / 160) and task.stream_seconds == pytest.approx(0.75)


def test_log_mel_power_spectrum_equals_the_fft_in_float64():
    """The matmul DFT gives log(|rfft(hann * frame, n_fft)|^2 @ fbank + 1e-6) of a float64 reference."""
    torch.manual_seed(0)
    frames = torch.randn(2, 5, 200) * 0.3
    mel = LogMel(8000, 200, n_mels=40)
    power = torch.fft.rfft(frames.double() * torch.hann_window(200, periodic=True, dtype=torch.float64),
                           n=256).abs().square()
    ref = torch.log(power @ mel_filterbank(256, 40, 8000, 20.0).double() + 1e-6)
    torch.testing.assert_close(mel(frames).double(), ref, rtol=1e-4, atol=1e-4)
    assert mel(torch.zeros(1, 0, 200)).shape == (1, 0, 40)  # no whole frame yet while streaming


def test_speed_perturbation_moves_tempo_and_pitch_together():
    """A 440 Hz tone played at speed f lasts 1/f as long and sounds at 440 f Hz; 0 leaves it alone."""
    import numpy as np
    from ssmkit_speech.features import speed_perturb

    tone = torch.sin(2 * math.pi * 440 * torch.arange(8000) / 8000)
    rng = np.random.default_rng(3)
    factors = []
    for _ in range(4):
        out = speed_perturb(tone, 8000, rng, max_change=0.1)
        f = 8000 / out.shape[-1]
        factors.append(f)
        assert 0.89 < f < 1.11
        peak = float(torch.fft.rfft(out).abs().argmax()) * 8000 / out.shape[-1]
        assert abs(peak - 440 * f) < 2.0, (f, peak)
    assert len({round(f, 3) for f in factors}) > 1  # random speeds
    assert speed_perturb(tone, 8000, rng, max_change=0.0) is tone


def test_causal_mean_normalisation_follows_its_definition_and_ignores_padding():
    """Frame t becomes x_t - sum_(s<=t) x_s / (cmn + t + 1) (float64 loop); padded frames leave real ones alone."""
    torch.manual_seed(0)
    net = build_net("spectrogram", 3, 8000, d_model=8, n_layers=1, d_state=4, cmn=5.0).eval()
    feats = torch.randn(2, 7, 40)
    out = net._normalise(feats, None, None).double()
    x = feats.double()
    for t in range(7):
        torch.testing.assert_close(out[:, t], x[:, t] - x[:, :t + 1].sum(1) / (5 + t + 1))
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    padded = net._normalise(feats, mask, None)
    torch.testing.assert_close(padded[1, :4], net._normalise(feats[1:, :4], None, None)[0])
    with pytest.raises(ConfigError, match="cmn"):
        build_net("raw", 3, 8000, cmn=5.0)


@pytest.mark.parametrize("options", [{}, {"cmn": 10.0}, {"pools": [1, 2]}])
def test_a_padded_clip_with_its_mask_gives_the_unpadded_logits(options):
    """Frames (and pooled tokens) count as real when their last sample is, so padding never leaks in."""
    torch.manual_seed(0)
    net = build_net("spectrogram", 4, 8000, d_model=8, n_layers=1, d_state=4, **options).eval()
    wave = torch.randn(1, 1003) * 0.3  # not a multiple of the 80-sample hop
    padded = torch.cat([wave, torch.zeros(1, 597)], 1)
    mask = torch.arange(1600).unsqueeze(0) < 1003
    with torch.no_grad():
        torch.testing.assert_close(net(padded, mask), net(wave), atol=1e-5, rtol=1e-5)
    state = net.stream_start(1)
    net.stream_push(wave[0:1], state)
    logits = net.stream_logits(state)
    assert not logits.is_inference()
    torch.testing.assert_close(logits, net(wave).detach(), atol=2e-5, rtol=1e-4)


def test_a_checkpoint_from_before_cmn_must_be_run_without_it():
    task = SpeechClassifier(num_classes=3, d_model=8, n_layers=1, d_state=4)
    old = {"hyper_parameters": {k: v for k, v in task.hparams.items() if k != "cmn"}}
    with pytest.raises(ConfigError, match="--model.cmn 0"):
        task.on_load_checkpoint(old)
    SpeechClassifier(num_classes=3, d_model=8, n_layers=1, d_state=4, cmn=0).on_load_checkpoint(old)
    task.on_load_checkpoint({"hyper_parameters": dict(task.hparams)})  # a checkpoint that records cmn


def test_a_checkpoint_from_before_freq_conv_loads_with_its_linear_front_end():
    torch.manual_seed(0)
    old_task = SpeechClassifier(num_classes=3, d_model=8, n_layers=1, d_state=4, freq_conv=0).eval()
    assert isinstance(old_task.net.front, torch.nn.Linear)
    checkpoint = {"hyper_parameters": {k: v for k, v in old_task.hparams.items() if k != "freq_conv"},
                  "state_dict": old_task.state_dict()}
    task = SpeechClassifier(num_classes=3, d_model=8, n_layers=1, d_state=4).eval()  # the default: freq_conv 16
    assert type(task.net.front).__name__ == "FrequencyConv"
    assert task.hparams.freq_conv == 16  # the resolved default is what a new checkpoint records
    resumed = {**checkpoint, "hyper_parameters": {**checkpoint["hyper_parameters"], "freq_conv": None}}
    task.on_load_checkpoint(resumed)  # the weights decide: a resumed run's config may say None
    task.load_state_dict(checkpoint["state_dict"])
    wave = torch.randn(2, 4000)
    with torch.no_grad():
        assert torch.equal(task.net(wave), old_task.net(wave)) and task.hparams.freq_conv == 0
    assert build_net("raw", 3, 8000, d_model=8, n_layers=1).front[0].in_features == 32  # raw: no such front


def test_raw_model_at_half_the_rate_keeps_each_frame_and_rescales_its_steps():
    torch.manual_seed(0)
    net = build_net("raw", 3, 8000, d_model=8, n_layers=1, mixer="s4d", d_state=8)
    trained = copy.deepcopy(net)
    assert (net.framer.win, net.framer.hop) == (32, 16)
    factor = net.at_rate(8000, 4000)
    assert factor == 2.0 and (net.framer.win, net.framer.hop) == (16, 16)
    # a signal held over pairs of 8 kHz samples: each 4 kHz frame's front features equal those of the 8 kHz frame
    # spanning the same 4 ms (4 kHz token j ends where 8 kHz token 2j+1 does)
    v = torch.randn(2, 400)
    at8 = trained.front[0](trained.framer.frames(v.repeat_interleave(2, dim=-1)))
    at4 = net.front[0](net.framer.frames(v))
    assert torch.allclose(at8[:, 1::2], at4, atol=1e-5)
    steps = [(n, p) for n, p in net.named_parameters() if n.endswith("log_dt")]
    old = dict(trained.named_parameters())
    assert len(steps) == 2 and all(torch.allclose(p, old[n] + math.log(2.0)) for n, p in steps)
    assert net(v).shape == (2, 3)
    kept = copy.deepcopy(trained)
    assert kept.at_rate(8000, 16000, rescale=False) == 0.5 and kept.framer.win == 64
    assert all(torch.equal(p, old[n]) for n, p in kept.named_parameters() if n.endswith("log_dt"))
    with pytest.raises(ConfigError, match="resample the audio"):
        build_net("spectrogram", 3, 8000).at_rate(8000, 4000)
    task = SpeechClassifier(num_classes=3, model="raw", d_model=8, n_layers=1, run_rate=4000)
    task.on_test_start()
    assert task.rate == 4000 and task.net.framer.hop == 16


def test_run_rate_through_a_trainer_predicts_as_the_converted_network(tone_folders):
    import pytorch_lightning as pl
    from ssmkit_speech.data import SpeechDataModule

    torch.manual_seed(0)
    task = SpeechClassifier(num_classes=3, model="raw", d_model=8, n_layers=1, run_rate=4000)
    reference = copy.deepcopy(task.net).eval()
    reference.at_rate(8000, 4000)
    dm = SpeechDataModule(root=str(tone_folders), layout="folders", split="random", sample_rate=8000, run_rate=4000,
                          clip_seconds=0.5, val_fraction=0.2, test_fraction=0.2, batch_size=4)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    rows = [r for batch in trainer.predict(task, datamodule=dm) for r in batch]
    assert task.rate == 4000 and dm.length == 2000
    with torch.no_grad():
        for row in rows:
            item = dm.predict_set[[int(i) for i in dm.predict_set.index].index(row["index"])]
            p, label = reference(item["x"][None], item["mask"][None]).softmax(-1)[0].max(-1)
            assert row["label"] == int(label) and row["probability"] == pytest.approx(float(p), abs=1e-5)
    with pytest.raises(ConfigError, match="use it with test or predict"):
        pl.Trainer(logger=False, enable_progress_bar=False).validate(
            SpeechClassifier(num_classes=3, model="raw", d_model=8, n_layers=1, run_rate=4000), datamodule=dm)
    with pytest.raises(ConfigError, match="only the raw-waveform model"):
        SpeechClassifier(num_classes=3, model="spectrogram", run_rate=4000)
    both_ways = SpeechDataModule(root=str(tone_folders), layout="folders", split="random", variable_length=True,
                                 clip_seconds=0.5, val_fraction=0.2, test_fraction=0.2)
    with pytest.raises(ConfigError, match="variable_length"):
        pl.Trainer(logger=False, enable_progress_bar=False).test(
            SpeechClassifier(num_classes=3, d_model=8, n_layers=1, bidirectional=True), datamodule=both_ways)


def test_frequency_convolution_front_is_per_frame_and_only_for_log_mel():
    torch.manual_seed(0)
    net = build_net("spectrogram", 3, 8000, d_model=8, n_layers=1, freq_conv=4).eval()
    feats = torch.randn(2, 7, 40)
    whole = net.front(feats)
    one_by_one = torch.cat([net.front(feats[:, t:t + 1]) for t in range(7)], dim=1)
    assert whole.shape == (2, 7, 8) and torch.allclose(whole, one_by_one, atol=1e-6)
    # a hand-written reference of the first frame: conv, GELU, max-pool twice, then the linear map
    f = net.front
    h = torch.nn.functional.max_pool1d(torch.nn.functional.gelu(f.net[0](feats[:1, 0][:, None])), 2)
    h = torch.nn.functional.max_pool1d(torch.nn.functional.gelu(f.net[3](h)), 2)
    assert torch.allclose(f.out(h.flatten(1)), whole[:1, 0], atol=1e-6)
    with pytest.raises(ConfigError, match="freq_conv"):
        build_net("raw", 3, 8000, freq_conv=4)
    with pytest.raises(ConfigError, match="freq_conv"):
        build_net("spectrogram", 3, 8000, freq_conv=-1)
    with pytest.raises(ConfigError, match="at least 4 features"):
        build_net("spectrogram", 3, 8000, freq_conv=4, n_mfcc=3)


def test_default_width_follows_the_model_and_is_what_checkpoints_record():
    raw = SpeechClassifier(num_classes=3, model="raw", n_layers=1, d_state=4)
    spec = SpeechClassifier(num_classes=3, n_layers=1, d_state=4)
    assert raw.hparams.d_model == 128 and raw.net.head.in_features == 128
    assert spec.hparams.d_model == 64 and spec.net.head.in_features == 64
    # a checkpoint of the earlier default (raw at 64) rebuilds at the width it records
    assert SpeechClassifier(**{**raw.hparams, "d_model": 64}).net.head.in_features == 64


def test_a_checkpoint_of_another_width_stops_with_one_line_naming_it():
    task = SpeechClassifier(num_classes=3, model="raw", n_layers=1, d_state=4)  # built at the default, 128
    with pytest.raises(ConfigError, match="--model.d_model 64"):
        task.on_load_checkpoint({"hyper_parameters": {**task.hparams, "d_model": 64}})
    task.on_load_checkpoint({"hyper_parameters": dict(task.hparams)})
