"""Decoding media into what the encoders take."""
import numpy as np
import pytest

from avrec.components.content.media import decode_audio, sample_frames
from tests.support.media import SONG_SECONDS, song, wav_bytes


def test_sample_frames_spreads_evenly_and_keeps_short_videos_whole():
    frames = [f"f{i}" for i in range(10)]
    assert sample_frames(frames, 4) == ["f1", "f3", "f6", "f8"]
    assert sample_frames(frames, 1) == ["f5"]
    assert sample_frames(frames[:3], 8) == ["f0", "f1", "f2"]


def test_decode_audio_mixes_to_mono_and_resamples_to_16_khz():
    left, right = song(np.arange(int(44100 * SONG_SECONDS)) / 44100)
    waveform = decode_audio(wav_bytes(44100, (np.stack([left, right], axis=1) * 32767).astype(np.int16)))
    expected_left, expected_right = song(np.arange(int(16000 * SONG_SECONDS)) / 16000)
    assert waveform.dtype == np.float32 and waveform.shape == (int(16000 * SONG_SECONDS),)
    assert np.abs(waveform - (expected_left + expected_right) / 2).max() < 0.01
    mono = np.sin(np.linspace(0, 100, 16000)).astype(np.float32)
    np.testing.assert_allclose(decode_audio(wav_bytes(16000, mono)), mono, atol=1e-6)
    with pytest.raises(ValueError):
        decode_audio(b"RIFF not really a wave file")
