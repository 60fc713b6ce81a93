"""Content embeddings of the catalog: modalities, parity with the encoders, the content-hash cache, media problems,
and the TFX component.

The catalog fixture has real media written here: PNG/JPEG cover art, five video frames (three are sampled), an
unreadable frame, a missing cover and a stereo WAV at 22.05 kHz, so decoding, frame sampling, mixing to mono and
resampling to 16 kHz all run for real.
"""
import dataclasses
import io
import json
import logging
from pathlib import Path

import avrec  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy.io import wavfile

from avrec.content import (MAX_CACHE_SHARDS, VectorStore, decode_audio, embed_catalog, read_content,
                           sample_frames)
from avrec.errors import AvrecError, DataError
from avrec.models.encoders import load_audio_embedder, load_image_embedder, load_text_embedder

SONG_SECONDS = 3.5


def _cosine(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def _song(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right channels at times t (seconds): a gated chord and a decaying 440 Hz tone."""
    left = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 660 * t) * (t % 0.5 < 0.25)
    right = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-3 * (t % 0.5))
    return left, right


def _wav_bytes(rate: int, samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    wavfile.write(buffer, rate, samples)
    return buffer.getvalue()


def _image(path: Path, size: tuple[int, int], seed: int) -> Path:
    """A smooth random picture (noise upsampled), so different seeds look different to a CNN."""
    coarse = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.BICUBIC).save(path)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    frames = [_image(root / f"frame{i}.png", (96, 64), seed=10 + i) for i in range(5)]
    (root / "broken.png").write_bytes(b"this is not a PNG")
    rate = 22050
    left, right = _song(np.arange(int(rate * SONG_SECONDS)) / rate)
    (root / "song.wav").write_bytes(_wav_bytes(rate, (np.stack([left, right], axis=1) * 32767).astype(np.int16)))
    return {"cover_a": _image(root / "cover_a.png", (64, 48), seed=1),
            "cover_b": _image(root / "cover_b.jpg", (80, 80), seed=2), "frames": frames,
            "broken": root / "broken.png", "missing": root / "missing.png", "song": root / "song.wav"}


def _catalog(media) -> list[dict]:
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


@pytest.fixture(scope="module")
def runs(handles, media, tmp_path_factory):
    """Two runs on one cache: the first fills it, the second must reuse everything; with their logs."""
    cache = str(tmp_path_factory.mktemp("cache"))
    logger = logging.getLogger("avrec.content")
    records, level = [], logger.level
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        first = embed_catalog(_catalog(media), handles, cache, frames_per_video=3)
        second = embed_catalog(_catalog(media), json.dumps(dataclasses.asdict(handles)), cache, frames_per_video=3)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return {"first": first, "second": second, "cache": cache, "log": [r.getMessage() for r in records]}


@pytest.mark.slow
def test_modalities_are_recorded_and_embeddings_equal_the_encoders(runs, media):
    content = runs["first"]
    assert content.item_id.tolist() == [b"m1", b"m2", b"m3", b"m4", b"m5", b"m6"]
    np.testing.assert_array_equal(content.present, PRESENT)
    assert content.text.shape == (6, 384) and content.image.shape == (6, 1280) and content.audio.shape == (6, 200)
    for modality, column in (("text", 0), ("image", 1), ("audio", 2)):
        absent = ~content.present[:, column]
        assert not getattr(content, modality)[absent].any(), f"{modality} rows of absent items must be zero"

    texts = load_text_embedder()(TEXTS).numpy()
    for row, expected in enumerate(texts):
        assert _cosine(content.text[row], expected) >= 0.999, TEXTS[row]

    images = load_image_embedder()

    def embed(path):
        return images(np.asarray(Image.open(path).convert("RGB"))[None]).numpy()[0]

    sampled = np.mean([embed(media["frames"][i]) for i in (0, 2, 4)], axis=0)  # 3 of 5, evenly spread
    assert _cosine(content.image[1], embed(media["cover_a"])) >= 0.999
    assert _cosine(content.image[2], sampled) >= 0.999
    assert _cosine(content.image[3], (embed(media["cover_b"]) + sampled) / 2) >= 0.999
    assert _cosine(content.image[2], content.image[3]) < 0.99  # the cover counts

    # The WAV was written at 22.05 kHz in stereo; the reference is the same song computed directly at 16 kHz, mono.
    left, right = _song(np.arange(int(16000 * SONG_SECONDS)) / 16000)
    reference = load_audio_embedder()(((left + right) / 2).astype(np.float32)[None]).numpy()[0]
    assert _cosine(content.audio[4], reference) >= 0.999


@pytest.mark.slow
def test_unusable_media_are_reported_and_the_item_keeps_its_text(runs, media):
    content = runs["first"]
    problems = {(p.item_id, p.modality, p.path): p.reason for p in content.report.problems}
    assert set(problems) == {("m5", "image", str(media["broken"])), ("m6", "image", str(media["missing"]))}
    assert problems[("m5", "image", str(media["broken"]))] == "cannot decode: not an image format Pillow reads"
    assert problems[("m6", "image", str(media["missing"]))] == "cannot read: No such file or directory"
    assert content.present[5].tolist() == [True, False, False] and content.present[4].tolist() == [True, False, True]
    warnings = [message for message in runs["log"] if "unusable" in message]
    assert len(warnings) == 2 and str(media["missing"]) in warnings[0] and str(media["broken"]) in warnings[0]


@pytest.mark.slow
def test_second_run_reuses_the_cache_and_a_changed_title_reencodes_only_that_item(runs, media, handles):
    first, second = runs["first"], runs["second"]
    # Distinct inputs: 6 texts; cover a, cover b and frames 0, 2, 4 (shared by m3 and m4); one song.
    assert first.report.encoded == {"text": 6, "image": 5, "audio": 1}
    assert first.report.reused == {"text": 0, "image": 0, "audio": 0}
    assert second.report.encoded == {"text": 0, "image": 0, "audio": 0}
    assert second.report.reused == {"text": 6, "image": 5, "audio": 1}
    for modality in ("text", "image", "audio", "present"):
        np.testing.assert_array_equal(getattr(second, modality), getattr(first, modality))
    assert any("reused from the cache: {'text': 6, 'image': 5, 'audio': 1}" in m for m in runs["log"])

    catalog = _catalog(media)
    catalog[1]["title"] = "Cover Only, Renamed"
    third = embed_catalog(catalog, handles, runs["cache"], frames_per_video=3)
    assert third.report.encoded == {"text": 1, "image": 0, "audio": 0}
    assert third.report.reused == {"text": 5, "image": 5, "audio": 1}
    renamed = load_text_embedder()(["Cover Only, Renamed. Drama"]).numpy()[0]
    assert _cosine(third.text[1], renamed) >= 0.999 and _cosine(third.text[1], first.text[1]) < 0.99
    np.testing.assert_array_equal(np.delete(third.text, 1, axis=0), np.delete(first.text, 1, axis=0))


def test_sample_frames_spreads_evenly_and_keeps_short_videos_whole():
    frames = [f"f{i}" for i in range(10)]
    assert sample_frames(frames, 4) == ["f1", "f3", "f6", "f8"]
    assert sample_frames(frames, 1) == ["f5"]
    assert sample_frames(frames[:3], 8) == ["f0", "f1", "f2"]


def test_decode_audio_mixes_to_mono_and_resamples_to_16_khz():
    left, right = _song(np.arange(int(44100 * SONG_SECONDS)) / 44100)
    waveform = decode_audio(_wav_bytes(44100, (np.stack([left, right], axis=1) * 32767).astype(np.int16)))
    expected_left, expected_right = _song(np.arange(int(16000 * SONG_SECONDS)) / 16000)
    assert waveform.dtype == np.float32 and waveform.shape == (int(16000 * SONG_SECONDS),)
    assert np.abs(waveform - (expected_left + expected_right) / 2).max() < 0.01
    mono = np.sin(np.linspace(0, 100, 16000)).astype(np.float32)
    np.testing.assert_allclose(decode_audio(_wav_bytes(16000, mono)), mono, atol=1e-6)
    with pytest.raises(ValueError):
        decode_audio(b"RIFF not really a wave file")


def test_vector_store_appends_atomically_and_compacts(tmp_path):
    store = VectorStore(str(tmp_path), "text", "0" * 64)
    rng = np.random.default_rng(0)
    expected = {}
    for shard in range(MAX_CACHE_SHARDS + 1):
        vectors = rng.normal(size=(3, 4)).astype(np.float32)
        keys = [f"{shard}-{i}" for i in range(3)]
        store.append(keys, list(vectors))
        expected.update(zip(keys, vectors))
    assert len(list(store.root.glob("*.npz"))) == MAX_CACHE_SHARDS + 1
    store.compact()
    assert len(list(store.root.glob("*.npz"))) == 1 and not list(store.root.glob(".*"))
    loaded = store.load()
    assert loaded.keys() == expected.keys()
    for key, vector in expected.items():
        np.testing.assert_array_equal(loaded[key], vector)

    (store.root / "broken.npz").write_bytes(b"garbage")
    with pytest.raises(AvrecError, match="broken.npz is unreadable"):
        store.load()


def test_bad_arguments_are_named(tmp_path, handles):
    catalog = [{"item_id": "a", "title": "A"}]
    with pytest.raises(AvrecError, match="frames_per_video must be at least 1"):
        embed_catalog(catalog, handles, str(tmp_path), frames_per_video=0)
    with pytest.raises(AvrecError, match="JSON object with the string fields"):
        embed_catalog(catalog, '{"text_encoder": "x"}', str(tmp_path))
    with pytest.raises(DataError, match=r"lacks the column\(s\) \['title'\]"):
        embed_catalog([{"item_id": "a"}], handles, str(tmp_path))
    with pytest.raises(DataError, match=r"repeats the item id\(s\) \['a'\]"):
        embed_catalog(catalog * 2, handles, str(tmp_path))


@pytest.mark.slow
def test_component_in_a_pipeline_writes_an_artifact_read_content_reads(runs, media, handles, tmp_path):
    import pandas as pd
    from tfx import v1 as tfx

    from avrec import features as F
    from avrec.components.content_embedder import ContentEmbedder
    from avrec.data.prepare import CATALOG_PATTERN, serialize_rows

    frame = pd.DataFrame(_catalog(media))
    for name in (F.GENRES, F.IMAGE_PATHS, F.FRAME_PATHS):
        frame[name] = frame[name].map(lambda value: value if isinstance(value, list) else [])
    for name in (F.TEXT, F.AUDIO_PATH):
        frame[name] = frame[name].fillna("")
    prepared = tmp_path / "prepared"
    (prepared / "catalog" / "items").mkdir(parents=True)
    with tf.io.TFRecordWriter(str(prepared / "catalog" / "items" / "data.tfrecord")) as writer:
        for record in serialize_rows(frame, list(F.CATALOG_SPEC)):
            writer.write(record)

    catalog = tfx.components.ImportExampleGen(
        input_base=str(prepared),
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="items", pattern=CATALOG_PATTERN)]),
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(
            splits=[tfx.proto.SplitConfig.Split(name="items", hash_buckets=1)])))
    embedder = ContentEmbedder(catalog=catalog.outputs["examples"], handles=json.dumps(dataclasses.asdict(handles)),
                               cache_dir=runs["cache"], frames_per_video=3)
    root = tmp_path / "pipeline"
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="content", pipeline_root=str(root), components=[catalog, embedder],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.sqlite"))))

    [uri] = [p.parent for p in root.glob("ContentEmbedder/content/*/embeddings.npz")]
    content = read_content(str(uri))
    expected = runs["first"]
    assert content.item_id.tolist() == expected.item_id.tolist()
    np.testing.assert_array_equal(content.present, expected.present)
    for modality in ("text", "image", "audio"):
        np.testing.assert_allclose(getattr(content, modality), getattr(expected, modality), atol=1e-6)
    # The cache outlives the run that filled it: the component encoded nothing.
    assert content.report.encoded == {"text": 0, "image": 0, "audio": 0}
    assert {p.item_id for p in content.report.problems} == {"m5", "m6"}
