"""Reading audio: sample rates, stereo, FLAC, bad files; resampling keeps a sine's frequency."""

import math

import numpy as np
import pytest
import torch
from ssmkit_speech.audio import crop_or_pad, normalize, read_audio, resample

from ssmkit.errors import ConfigError, DataError

from .conftest import tone


@pytest.mark.parametrize("orig,new", [(44100, 16000), (8000, 16000), (16000, 8000), (22050, 8000), (48000, 44100)])
def test_resampling_keeps_a_sines_frequency(orig, new):
    t = torch.arange(orig) / orig
    y = resample(torch.sin(2 * math.pi * 440.0 * t), orig, new)
    assert y.shape == (new,)
    spectrum = torch.fft.rfft(y * torch.hann_window(new)).abs()
    assert abs(float(spectrum.argmax()) - 440.0) <= 1.0  # 1 s of signal: bins are 1 Hz apart
    ref = torch.sin(2 * math.pi * 440.0 * torch.arange(new) / new)
    assert float((y - ref)[100:-100].abs().max()) < 2e-3  # away from the edges, the sine itself


def test_resampling_removes_what_the_new_rate_cannot_hold():
    orig, new = 16000, 8000
    t = torch.arange(orig) / orig
    y = resample(torch.sin(2 * math.pi * 6000.0 * t), orig, new)  # above the new Nyquist (4 kHz)
    assert float(y[200:-200].abs().max()) < 0.01


@pytest.mark.parametrize("orig,new", [(8001, 16000), (16000, 8001), (44101, 16000)])
def test_near_coprime_rates_resample_directly(orig, new):
    """Their polyphase table would take gigabytes (a corrupt WAV header's rate was enough to exhaust memory);
    they take the direct form, the same filter evaluated output by output."""
    t = torch.arange(orig) / orig
    y = resample(torch.sin(2 * math.pi * 440.0 * t), orig, new)
    assert y.shape == (new,)
    ref = torch.sin(2 * math.pi * 440.0 * torch.arange(new) / new)
    assert float((y - ref)[100:-100].abs().max()) < 2e-3


@pytest.mark.parametrize("orig,new", [(8000, 12000), (44100, 16000), (22050, 8000)])
def test_the_direct_form_equals_the_polyphase_one(orig, new):
    from ssmkit_speech.audio import _resample_direct

    x = torch.randn(2, 3001, generator=torch.Generator().manual_seed(0))
    g = math.gcd(orig, new)
    width = math.ceil(16 * (orig // g) / (min(orig, new) // g * 0.945))
    direct = _resample_direct(x, orig // g, new // g, width, 0.945)
    assert torch.allclose(direct, resample(x, orig, new), atol=1e-5)


def test_resampling_batches_and_identity():
    x = torch.randn(3, 2, 1000)
    assert resample(x, 8000, 8000) is x
    y = resample(x, 8000, 12000)
    assert y.shape == (3, 2, 1500)
    assert torch.allclose(y[1, 0], resample(x[1, 0], 8000, 12000), atol=1e-6)


def test_read_wav_flac_other_rates_and_stereo(tmp_path, write_audio):
    mono = write_audio(tmp_path / "a.wav", tone(440, 22050, 0.5), 22050)
    flac = write_audio(tmp_path / "b.flac", tone(440, 16000, 0.5, channels=2), 16000)
    wave = read_audio(mono, 8000)
    assert wave.dtype == torch.float32 and wave.shape == (4000,)
    stereo = read_audio(flac)
    assert stereo.shape == (8000,)  # mixed down, own rate kept
    assert read_audio(flac, 8000).shape == (4000,)
    with pytest.raises(DataError, match=r"b\.flac: sample rate 16000 Hz, expected 8000 Hz"):
        read_audio(flac, 8000, on_rate_mismatch="error")
    with pytest.raises(ConfigError, match="on_rate_mismatch"):
        read_audio(flac, 8000, on_rate_mismatch="drop")


def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, write_audio):
    good = write_audio(tmp_path / "good.wav", tone(440, 8000, 0.5), 8000)
    blob = good.read_bytes()
    cases = {
        "empty.wav": (b"", "empty file"),
        "header.wav": (blob[:30], "cannot read audio"),
        "cut.wav": (blob[:2000], "truncated"),
        "text.flac": (b"this is not audio at all\n" * 10, "cannot read audio"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match=message) as info:
            read_audio(tmp_path / name, 8000)
        assert name in str(info.value) and "\n" not in str(info.value)
    write_audio(tmp_path / "silent.wav", np.zeros(4000, np.float32), 8000)
    write_audio(tmp_path / "nothing.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(DataError, match=r"silent\.wav: silent"):
        read_audio(tmp_path / "silent.wav")
    with pytest.raises(DataError, match=r"nothing\.wav: no samples"):
        read_audio(tmp_path / "nothing.wav")
    with pytest.raises(DataError, match=r"missing\.wav: no such audio file"):
        read_audio(tmp_path / "missing.wav")


def test_crop_pad_and_normalize():
    x = torch.arange(1, 11, dtype=torch.float32)
    y, end = crop_or_pad(x, 16)
    assert end == 10 and torch.equal(y[:10], x) and not y[10:].any()
    y, end = crop_or_pad(x, 16, offset=4)
    assert end == 14 and torch.equal(y[4:14], x)
    y, end = crop_or_pad(x, 4)
    assert end == 4 and torch.equal(y, x[3:7])  # centred
    assert float(normalize(x * 1e-3).abs().max()) == pytest.approx(0.9)
    with pytest.raises(ConfigError):
        normalize(x, "loud")
