"""Real media for the content tests: PNG/JPEG cover art, five video frames, an unreadable frame, a missing cover
and a stereo WAV at 22.05 kHz, so decoding, frame sampling, mixing to mono and resampling all run for real."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.io import wavfile

from avrec import features as F

SONG_SECONDS = 3.5


def song(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right channels at times t (seconds): a gated chord and a decaying 440 Hz tone."""
    left = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 660 * t) * (t % 0.5 < 0.25)
    right = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-3 * (t % 0.5))
    return left, right


def wav_bytes(rate: int, samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    wavfile.write(buffer, rate, samples)
    return buffer.getvalue()


def image(path: Path, size: tuple[int, int], seed: int) -> Path:
    """A smooth random picture (noise upsampled), so different seeds look different to a CNN."""
    coarse = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.BICUBIC).save(path)
    return path


def write_media(root: Path) -> dict:
    frames = [image(root / f"frame{i}.png", (96, 64), seed=10 + i) for i in range(5)]
    (root / "broken.png").write_bytes(b"this is not a PNG")
    rate = 22050
    left, right = song(np.arange(int(rate * SONG_SECONDS)) / rate)
    (root / "song.wav").write_bytes(wav_bytes(rate, (np.stack([left, right], axis=1) * 32767).astype(np.int16)))
    return {"cover_a": image(root / "cover_a.png", (64, 48), seed=1),
            "cover_b": image(root / "cover_b.jpg", (80, 80), seed=2), "frames": frames,
            "broken": root / "broken.png", "missing": root / "missing.png", "song": root / "song.wav"}


def catalog_rows(media) -> list[dict]:
    frames = [str(p) for p in media["frames"]]
    return [
        {"item_id": "m1", "title": "Toy Story (1995)", "genres": ["Animation", "Comedy"], "text": "pixar, fun"},
        {"item_id": "m2", "title": "Cover Only", "genres": ["Drama"], "image_paths": [str(media["cover_a"])]},
        {"item_id": "m3", "title": "Video Only", "text": "a trailer", "frame_paths": frames},
        {"item_id": "m4", "title": "Cover and Video", "image_paths": [str(media["cover_b"])], "frame_paths": frames},
        {"item_id": "m5", "title": "Song", "genres": ["Rock"], "audio_path": str(media["song"]),
         "frame_paths": [str(media["broken"])]},
        {"item_id": "m6", "title": "Lost Cover", "image_paths": [str(media["missing"])]},
    ]


# What the text encoder must read per item ("title. genres. text"), written out independently of the code.
TEXTS = ["Toy Story (1995). Animation, Comedy. pixar, fun", "Cover Only. Drama", "Video Only. a trailer",
         "Cover and Video", "Song. Rock", "Lost Cover"]
PRESENT = [[True, False, False], [True, True, False], [True, True, False], [True, True, False],
           [True, False, True], [True, False, False]]




def catalog_frame(rows: list[dict]) -> pd.DataFrame:
    """Catalog rows as the canonical frame: every column of avrec.features.CATALOG_FEATURES, lists as lists."""
    return pd.DataFrame([{name: row.get(name, [] if name in F.LIST_FEATURES else "") for name in F.CATALOG_FEATURES}
                         for row in rows])
