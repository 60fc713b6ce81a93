"""Media files decoded into what the encoders take, and what an item's inputs are.

Per item: text = "title. genres. text" (avrec.features.content_text); image = its cover art and `frames_per_video`
evenly sampled video frames; audio = its WAV file, mixed to mono and resampled to the encoder's rate.
"""
from __future__ import annotations

import dataclasses
import io
import math
import struct

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from scipy.io import wavfile
from scipy.signal import resample_poly

from avrec import features as F
from avrec.errors import DataError
from avrec.models.encoders.interfaces import AUDIO_SAMPLE_RATE

# What Pillow and scipy's WAV reader raise for truncated, malformed or oversized files.
DECODE_ERRORS = {"image": (OSError, ValueError, SyntaxError, Image.DecompressionBombError),
                 "audio": (OSError, ValueError, EOFError, struct.error)}


@dataclasses.dataclass(frozen=True)
class CatalogItem:
    """What one item gives the encoders: its text, cover and frame paths (frames already sampled), audio path."""

    item_id: str
    text: str
    covers: tuple[str, ...]
    frames: tuple[str, ...]
    audio: str


def sample_frames(frame_paths: list[str], count: int) -> list[str]:
    """`count` frames spread evenly over the video (the middle of each of `count` equal segments); all if fewer."""
    if len(frame_paths) <= count:
        return list(frame_paths)
    return [frame_paths[int((i + 0.5) * len(frame_paths) / count)] for i in range(count)]


def catalog_items(catalog: pd.DataFrame, frames_per_video: int) -> list[CatalogItem]:
    """Catalog rows (columns as avrec.features.CATALOG_FEATURES, list columns as lists) -> checked items."""
    missing = [name for name in (F.ITEM_ID, F.TITLE) if name not in catalog.columns]
    if missing:
        raise DataError(f"the catalog lacks the column(s) {missing}; it has {list(catalog.columns)}")
    if catalog.empty:
        raise DataError("the catalog has no items to embed")
    duplicated = catalog[F.ITEM_ID][catalog[F.ITEM_ID].duplicated()].unique().tolist()
    if duplicated:
        raise DataError(f"the catalog repeats the item id(s) {duplicated[:5]}")

    def column(name, empty):
        return catalog[name].tolist() if name in catalog.columns else [empty] * len(catalog)

    return [CatalogItem(str(item_id), F.content_text(title, genres, text), tuple(covers),
                        tuple(sample_frames(list(frames), frames_per_video)), audio)
            for item_id, title, genres, text, covers, audio, frames in zip(
                catalog[F.ITEM_ID], catalog[F.TITLE], column(F.GENRES, []), column(F.TEXT, ""),
                column(F.IMAGE_PATHS, []), column(F.AUDIO_PATH, ""), column(F.FRAME_PATHS, []))]


def read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def unreadable(error: OSError) -> str:
    return f"cannot read: {error.strerror or error}"


def decode_image(data: bytes) -> np.ndarray:
    """Image file bytes -> RGB uint8 [height, width, 3]."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:  # its message names the BytesIO object, not the problem
        raise ValueError("not an image format Pillow reads") from None
    with image:
        return np.asarray(image.convert("RGB"))


def decode_audio(data: bytes) -> np.ndarray:
    """WAV file bytes -> mono float32 waveform in [-1, 1] at the audio encoder's sample rate."""
    rate, samples = wavfile.read(io.BytesIO(data))
    if samples.dtype.kind == "f":
        waveform = samples.astype(np.float32)
    elif samples.dtype == np.uint8:
        waveform = (samples.astype(np.float32) - 128.0) / 128.0
    else:  # signed PCM, left-justified in its integer type
        waveform = samples.astype(np.float32) / float(2 ** (8 * samples.dtype.itemsize - 1))
    if waveform.ndim == 2:
        waveform = waveform.mean(axis=1)
    if waveform.size == 0:
        raise ValueError("the WAV file has no samples")
    common = math.gcd(AUDIO_SAMPLE_RATE, rate)
    return resample_poly(waveform, AUDIO_SAMPLE_RATE // common, rate // common).astype(np.float32)


DECODERS = {"image": decode_image, "audio": decode_audio}
