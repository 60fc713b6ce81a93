"""Content embeddings of the whole item catalog: text, image (cover art and video frames) and audio vectors per item.

`embed_catalog` runs on Apache Beam (in-process DirectRunner): every input is hashed together with the encoder that
embeds it, inputs already in the cache are reused, the rest are decoded and embedded in batches by DoFns that load
the encoders once, and the new vectors are appended to the cache. An item's media that cannot be read or decoded
makes that modality absent for the item and is reported, never a crash and never a silent drop.

Per item: text = MiniLM sentence embedding of "title. genres. text"; image = mean of the cover-art embeddings, or of
`frames_per_video` evenly sampled video frames, or the mean of both when the item has both; audio = musicnn embedding
of the WAV mixed to mono at 16 kHz. `write_content` / `read_content` store the result as `embeddings.npz`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import pickle
import struct
import tempfile
import uuid
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import apache_beam as beam
import numpy as np
import pandas as pd
from apache_beam.metrics.metric import MetricsFilter
from PIL import Image, UnidentifiedImageError
from scipy.io import wavfile
from scipy.signal import resample_poly

from avrec import features as F
from avrec.data.prepare import read_examples
from avrec.errors import AvrecError, DataError
from avrec.models.encoders.audio import SAMPLE_RATE as AUDIO_SAMPLE_RATE
from avrec.models.encoders.handles import EncoderHandles

logger = logging.getLogger(__name__)

MODALITIES = ("text", "image", "audio")
EMBEDDINGS_FILE = "embeddings.npz"
REPORT_FILE = "report.json"
# Inputs per batch: texts are sorted by length within a batch and encoded TEXT_CALL at a time, so each encoder call
# pads to a similar length (3x faster than catalog order on MovieLens); full-size video frames are large.
BATCH_SIZES = {"text": 1024, "image": 16, "audio": 4}
TEXT_CALL = 64
# The cache gains one shard per modality per run that encodes something; beyond this many they are merged.
MAX_CACHE_SHARDS = 8
_COUNTERS = "avrec.content"
_SHOWN_PROBLEMS = 5
# What Pillow and scipy's WAV reader raise for truncated, malformed or oversized files.
_DECODE_ERRORS = {"image": (OSError, ValueError, SyntaxError, Image.DecompressionBombError),
                  "audio": (OSError, ValueError, EOFError, struct.error)}


@dataclasses.dataclass(frozen=True)
class MediaProblem:
    """An item's input that could not be used, so the item lacks that modality."""

    item_id: str
    modality: str
    path: str
    reason: str

    def __str__(self):
        where = f" {self.path}" if self.path else ""
        return f"item '{self.item_id}' {self.modality}{where}: {self.reason}"


@dataclasses.dataclass
class ContentReport:
    """What a run did: the encoder handles, inputs encoded vs reused from the cache per modality, media problems."""

    handles: dict[str, str]
    encoded: dict[str, int]
    reused: dict[str, int]
    problems: list[MediaProblem]

    @classmethod
    def from_dict(cls, values: Mapping) -> "ContentReport":
        return cls(dict(values["handles"]), dict(values["encoded"]), dict(values["reused"]),
                   [MediaProblem(**problem) for problem in values["problems"]])


@dataclasses.dataclass
class CatalogContent:
    """Embeddings in catalog order. A modality's rows are zero where `present` is False; a modality no item has at
    all has zero columns (its dimension is unknown without an input)."""

    item_id: np.ndarray  # bytes [N]
    text: np.ndarray  # float32 [N, Dt]
    image: np.ndarray  # float32 [N, Di]
    audio: np.ndarray  # float32 [N, Da]
    present: np.ndarray  # bool [N, 3]: text, image, audio
    report: ContentReport | None = None


def write_content(content: CatalogContent, artifact_uri: str) -> None:
    os.makedirs(artifact_uri, exist_ok=True)
    np.savez(os.path.join(artifact_uri, EMBEDDINGS_FILE), item_id=content.item_id, text=content.text,
             image=content.image, audio=content.audio, present=content.present)
    if content.report is not None:
        with open(os.path.join(artifact_uri, REPORT_FILE), "w") as handle:
            json.dump(dataclasses.asdict(content.report), handle, indent=2)


def read_content(artifact_uri: str) -> CatalogContent:
    path = os.path.join(artifact_uri, EMBEDDINGS_FILE)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            content = CatalogContent(**{name: arrays[name] for name in ("item_id", *MODALITIES, "present")})
    except FileNotFoundError:
        raise AvrecError(f"no content embeddings at {path}: run the ContentEmbedder component first") from None
    report_path = os.path.join(artifact_uri, REPORT_FILE)
    if os.path.exists(report_path):
        with open(report_path) as handle:
            content.report = ContentReport.from_dict(json.load(handle))
    return content


def read_catalog(pattern: str) -> pd.DataFrame:
    """The catalog Examples (avrec.features.CATALOG_SPEC) as a frame of str and list-of-str columns."""
    values = read_examples(pattern, F.CATALOG_SPEC)
    columns = {}
    for name, tensor in values.items():
        if name in F.LIST_FEATURES:
            columns[name] = [[v.decode() for v in row] for row in tensor.to_list()]
        else:
            columns[name] = [v.decode() for v in tensor.numpy()]
    return pd.DataFrame(columns)


def item_text(title: str, genres: Iterable[str], text: str) -> str:
    """What the text encoder reads for an item: "title. genre, genre. text", leaving out empty parts."""
    return ". ".join(part for part in (title.strip(), ", ".join(g for g in genres if g), text.strip()) if part)


def sample_frames(frame_paths: list[str], count: int) -> list[str]:
    """`count` frames spread evenly over the video (the middle of each of `count` equal segments); all if fewer."""
    if len(frame_paths) <= count:
        return list(frame_paths)
    return [frame_paths[int((i + 0.5) * len(frame_paths) / count)] for i in range(count)]


def decode_image(data: bytes) -> np.ndarray:
    """Image file bytes -> RGB uint8 [height, width, 3]."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:  # its message names the BytesIO object, not the problem
        raise ValueError("not an image format Pillow reads") from None
    with image:
        return np.asarray(image.convert("RGB"))


def decode_audio(data: bytes) -> np.ndarray:
    """WAV file bytes -> mono float32 waveform in [-1, 1] at 16 kHz."""
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


def encoder_identity(*handles: str) -> str:
    """What a cache key says about the encoder: a local SavedModel by its TF fingerprint (so a rebuild with other
    weights invalidates the cache, a moved folder does not), a remote handle by its URL (versioned, immutable)."""
    digest = hashlib.sha256()
    for handle in handles:
        local = [] if "://" in handle else [Path(handle) / name for name in ("fingerprint.pb", "saved_model.pb")]
        files = [path for path in local if path.is_file()]
        digest.update(files[0].read_bytes() if files else handle.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def content_key(identity: str, data: bytes) -> str:
    return hashlib.sha256(identity.encode() + b"\0" + data).hexdigest()


class VectorStore:
    """Content key -> vector for one modality and encoder: .npz shards under cache_dir, each written to a temporary
    file and renamed into place, so readers never see a partial shard and concurrent runs never lose entries."""

    def __init__(self, cache_dir: str, modality: str, identity: str):
        self.root = Path(cache_dir) / f"{modality}-{identity[:16]}"

    def _shards(self) -> list[Path]:
        return sorted(self.root.glob("*.npz"))

    @staticmethod
    def _read(shards: list[Path]) -> dict[str, np.ndarray]:
        entries = {}
        for shard in shards:
            try:
                with np.load(shard, allow_pickle=False) as arrays:
                    entries.update(zip(arrays["keys"].tolist(), arrays["vectors"]))
            except FileNotFoundError:
                raise
            except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise AvrecError(f"the embedding cache file {shard} is unreadable ({e}); delete it and rerun") from e
        return entries

    def load(self) -> dict[str, np.ndarray]:
        for _ in range(2):
            try:
                return self._read(self._shards())
            except FileNotFoundError:  # a concurrent compaction replaced the shards listed: list them again
                continue
        return self._read(self._shards())

    def append(self, keys: list[str], vectors: list[np.ndarray]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.root, prefix=".", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, keys=np.array(keys, dtype="U64"), vectors=np.stack(vectors).astype(np.float32))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.root / f"{uuid.uuid4().hex}.npz")

    def compact(self) -> None:
        shards = self._shards()
        if len(shards) > MAX_CACHE_SHARDS:
            entries = self._read(shards)
            self.append(list(entries), list(entries.values()))
            for shard in shards:
                shard.unlink(missing_ok=True)


def _handles(handles: EncoderHandles | str) -> EncoderHandles:
    if isinstance(handles, EncoderHandles):
        return handles
    fields = [field.name for field in dataclasses.fields(EncoderHandles)]
    try:
        values = json.loads(handles)
        return EncoderHandles(**values)
    except (json.JSONDecodeError, TypeError) as e:
        raise AvrecError(f"the encoder handles must be a JSON object with the string fields {fields}, got "
                         f"{handles!r} ({e})") from None


def _identities(handles: EncoderHandles) -> dict[str, str]:
    return {"text": encoder_identity(handles.text_preprocessor, handles.text_encoder),
            "image": encoder_identity(handles.image_feature_vector), "audio": encoder_identity(handles.audio)}


def _str(value) -> str:
    """A str cell; None or NaN (a missing cell in a frame built from records) is empty."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _list(value) -> list[str]:
    """A list column's value: a list of str, or a '|'-joined str as the data adapters' catalog frames hold it."""
    if value is None or isinstance(value, (str, float)):
        text = _str(value)
        return text.split("|") if text else []
    return [str(v) for v in value]


def _items(catalog: pd.DataFrame | Iterable[Mapping], frames_per_video: int) -> list[tuple]:
    """Catalog rows -> (item_id, text, cover paths, sampled frame paths, audio path), checked."""
    frame = catalog if isinstance(catalog, pd.DataFrame) else pd.DataFrame(list(catalog))
    missing = [name for name in (F.ITEM_ID, F.TITLE) if name not in frame.columns]
    if missing:
        raise DataError(f"the catalog lacks the column(s) {missing}; it has {list(frame.columns)}")
    if frame.empty:
        raise DataError("the catalog has no items to embed")
    duplicated = frame[F.ITEM_ID][frame[F.ITEM_ID].duplicated()].unique().tolist()
    if duplicated:
        raise DataError(f"the catalog repeats the item id(s) {duplicated[:5]}")

    def column(name):
        return frame[name].tolist() if name in frame.columns else [None] * len(frame)

    items = []
    for item_id, title, genres, text, covers, audio, frames in zip(
            frame[F.ITEM_ID], frame[F.TITLE], *(column(n) for n in (F.GENRES, F.TEXT, F.IMAGE_PATHS, F.AUDIO_PATH,
                                                                     F.FRAME_PATHS))):
        items.append((str(item_id), item_text(_str(title), _list(genres), _str(text)), tuple(_list(covers)),
                      tuple(sample_frames(_list(frames), frames_per_video)), _str(audio)))
    return items


def _read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _unreadable(error: OSError) -> str:
    return f"cannot read: {error.strerror or error}"


def _inputs(item: tuple, identities: dict[str, str]):
    """Item -> ((modality, key), (item_id, role, source)) per input, or a MediaProblem for a modality whose files
    cannot all be read (that modality then has no inputs for the item)."""
    item_id, text, covers, frames, audio = item
    if text:
        yield ("text", content_key(identities["text"], text.encode())), (item_id, "text", text)
    else:
        yield beam.pvalue.TaggedOutput("problems",
                                       MediaProblem(item_id, "text", "", "title, genres and text are all empty"))
    for modality, files in (("image", [*(("cover", p) for p in covers), *(("frame", p) for p in frames)]),
                            ("audio", [("audio", audio)] if audio else [])):
        uses = []
        for role, path in files:
            try:
                key = content_key(identities[modality], _read_file(path))
            except OSError as e:
                yield beam.pvalue.TaggedOutput("problems", MediaProblem(item_id, modality, path, _unreadable(e)))
                break
            uses.append(((modality, key), (item_id, role, path)))
        else:
            yield from uses


class _CacheLookup(beam.DoFn):
    """(modality, key), source -> the cached vector (main output) or the input to encode ('missing')."""

    def __init__(self, cache_dir: str, identities: dict[str, str]):
        self._cache_dir, self._identities = cache_dir, identities

    def setup(self):
        self._cached = {m: VectorStore(self._cache_dir, m, identity).load()
                        for m, identity in self._identities.items()}
        self._reused = {m: beam.metrics.Metrics.counter(_COUNTERS, f"{m}_reused") for m in MODALITIES}

    def process(self, element):
        (modality, key), source = element
        vector = self._cached[modality].get(key)
        if vector is None:
            yield beam.pvalue.TaggedOutput("missing", element)
        else:
            self._reused[modality].inc()
            yield (modality, key), vector


class _Encode(beam.DoFn):
    """Batches of one modality's inputs -> ((modality, key), vector), or ((modality, key), reason) on 'failed'."""

    def __init__(self, modality: str, handles: EncoderHandles, identity: str):
        self._modality, self._handles, self._identity = modality, handles, identity

    def setup(self):
        from avrec.models.encoders import load_audio_embedder, load_image_embedder, load_text_embedder

        handles = self._handles
        if self._modality == "text":
            self._embedder = load_text_embedder(handles.text_encoder, handles.text_preprocessor)
        elif self._modality == "image":
            self._embedder = load_image_embedder(handles.image_feature_vector)
        else:
            self._embedder = load_audio_embedder(handles.audio)
        self._encoded = beam.metrics.Metrics.counter(_COUNTERS, f"{self._modality}_encoded")

    def _decode(self, path: str, key: str):
        """(the file's media, None), or (None, why it cannot be used)."""
        try:
            data = _read_file(path)
        except OSError as e:
            return None, _unreadable(e)
        if content_key(self._identity, data) != key:
            return None, "the file changed while the catalog was being embedded"
        try:
            return (decode_image if self._modality == "image" else decode_audio)(data), None
        except _DECODE_ERRORS[self._modality] as e:
            return None, f"cannot decode: {e}"

    def process(self, batch):
        if self._modality == "text":
            batch = sorted(batch, key=lambda element: len(element[1]))
            for start in range(0, len(batch), TEXT_CALL):
                chunk = batch[start:start + TEXT_CALL]
                self._encoded.inc(len(chunk))
                yield from zip([key for key, _ in chunk], self._embedder([text for _, text in chunk]).numpy())
            return
        # One encoder call per input shape: frames of a video share theirs; audio clips differ in length.
        by_shape = defaultdict(list)
        for key, path in batch:
            value, reason = self._decode(path, key[1])
            if reason:
                yield beam.pvalue.TaggedOutput("failed", (key, reason))
            else:
                by_shape[value.shape if self._modality == "image" else key].append((key, value))
        for group in by_shape.values():
            vectors = self._embedder(np.stack([value for _, value in group])).numpy()
            self._encoded.inc(len(group))
            yield from zip([key for key, _ in group], vectors)


def _append_to_cache(modality_entries, cache_dir: str, identities: dict[str, str]) -> None:
    modality, entries = modality_entries
    entries = list(entries)
    VectorStore(cache_dir, modality, identities[modality]).append([k for k, _ in entries], [v for _, v in entries])


def _uses_with_outcome(joined):
    """Fans a key's vector (or failure) out to every item input that has that content."""
    (modality, _), grouped = joined
    vectors, failures = list(grouped["vectors"]), list(grouped["failures"])
    for item_id, role, source in grouped["uses"]:
        outcome = (role, vectors[0]) if vectors else (role, MediaProblem(item_id, modality, source, failures[0]))
        yield (item_id, modality), outcome


def _pool(item_modality):
    """An item's input vectors -> its modality vector: mean within each role (cover art, frames), then across roles.
    Any failed input makes the modality absent."""
    (item_id, modality), outcomes = item_modality
    problems = [value for _, value in outcomes if isinstance(value, MediaProblem)]
    if problems:
        return problems
    by_role = defaultdict(list)
    for role, vector in outcomes:
        by_role[role].append(vector)
    return [(item_id, modality, np.mean([np.mean(vs, axis=0) for vs in by_role.values()], axis=0))]


def _dump(results: list, path: str) -> None:
    with open(path, "wb") as handle:
        pickle.dump(results, handle)


def _run_beam(items: list[tuple], handles: EncoderHandles, identities: dict[str, str], cache_dir: str,
              results_path: str) -> dict[str, int]:
    """The Beam pipeline; writes [(item_id, modality, vector) | MediaProblem] to results_path, returns counters."""
    used = {"text", *(["image"] if any(covers or frames for _, _, covers, frames, _ in items) else []),
            *(["audio"] if any(audio for *_, audio in items) else [])}
    pipeline = beam.Pipeline()
    hashed = (pipeline | "Items" >> beam.Create(items)
              | "Hash" >> beam.FlatMap(_inputs, identities).with_outputs("problems", main="uses"))
    looked_up = (hashed.uses | "Sources" >> beam.Map(lambda use: (use[0], use[1][2]))
                 | "Distinct" >> beam.CombinePerKey(min)
                 | "Lookup" >> beam.ParDo(_CacheLookup(cache_dir, identities)).with_outputs("missing", main="cached"))
    encoded, failed = [], []
    for modality in sorted(used):
        outputs = (looked_up.missing | f"Only{modality}" >> beam.Filter(lambda e, m=modality: e[0][0] == m)
                   | f"Batch{modality}" >> beam.BatchElements(min_batch_size=BATCH_SIZES[modality],
                                                              max_batch_size=BATCH_SIZES[modality])
                   | f"Encode{modality}" >> beam.ParDo(_Encode(modality, handles, identities[modality]))
                   .with_outputs("failed", main="vectors"))
        encoded.append(outputs.vectors)
        failed.append(outputs.failed)
    new = encoded | "New" >> beam.Flatten()
    _ = (new | "ByModality" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
         | "GroupNew" >> beam.GroupByKey()
         | "AppendToCache" >> beam.Map(_append_to_cache, cache_dir, identities))
    per_item = ({"uses": hashed.uses, "vectors": (looked_up.cached, new) | "Vectors" >> beam.Flatten(),
                 "failures": failed | "Failures" >> beam.Flatten()}
                | "Join" >> beam.CoGroupByKey()
                | "FanOut" >> beam.FlatMap(_uses_with_outcome)
                | "PerItem" >> beam.GroupByKey()
                | "Pool" >> beam.FlatMap(_pool))
    _ = ((per_item, hashed.problems) | "Results" >> beam.Flatten()
         | "Collect" >> beam.combiners.ToList()
         | "Write" >> beam.Map(_dump, results_path))
    result = pipeline.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace(_COUNTERS))["counters"]
    return {counter.key.metric.name: counter.committed for counter in counters}


def embed_catalog(catalog: pd.DataFrame | Iterable[Mapping], handles: EncoderHandles | str, cache_dir: str,
                  frames_per_video: int = 8) -> CatalogContent:
    """Embeds every catalog item (columns as avrec.features.CATALOG_SPEC; list columns as lists or '|'-joined)
    with the encoders at `handles` (EncoderHandles or its JSON), reusing and extending the cache in cache_dir."""
    if frames_per_video < 1:
        raise AvrecError(f"frames_per_video must be at least 1, got {frames_per_video}")
    handles = _handles(handles)
    items = _items(catalog, frames_per_video)
    identities = _identities(handles)
    with tempfile.TemporaryDirectory() as scratch:
        results_path = os.path.join(scratch, "results.pickle")
        counters = _run_beam(items, handles, identities, cache_dir, results_path)
        with open(results_path, "rb") as handle:
            results = pickle.load(handle)
    for modality, identity in identities.items():
        VectorStore(cache_dir, modality, identity).compact()

    index = {item[0]: row for row, item in enumerate(items)}
    vectors = {m: {} for m in MODALITIES}
    problems = []
    for result in results:
        if isinstance(result, MediaProblem):
            problems.append(result)
        else:
            item_id, modality, vector = result
            vectors[modality][index[item_id]] = vector
    problems.sort(key=lambda p: (index[p.item_id], MODALITIES.index(p.modality), p.path))
    arrays, present = {}, np.zeros((len(items), len(MODALITIES)), dtype=bool)
    for column, modality in enumerate(MODALITIES):
        rows = vectors[modality]
        dim = len(next(iter(rows.values()))) if rows else 0
        arrays[modality] = np.zeros((len(items), dim), dtype=np.float32)
        for row, vector in rows.items():
            arrays[modality][row] = vector
            present[row, column] = True
    report = ContentReport(handles=dataclasses.asdict(handles),
                           encoded={m: counters.get(f"{m}_encoded", 0) for m in MODALITIES},
                           reused={m: counters.get(f"{m}_reused", 0) for m in MODALITIES}, problems=problems)
    _log_summary(len(items), present, report)
    return CatalogContent(item_id=np.array([item[0].encode() for item in items]), present=present, report=report,
                          **arrays)


def _log_summary(n_items: int, present: np.ndarray, report: ContentReport) -> None:
    counts = ", ".join(f"{m} {count}" for m, count in zip(MODALITIES, present.sum(axis=0)))
    logger.info("embedded %d catalog items; items per modality: %s; inputs encoded: %s; reused from the cache: %s",
                n_items, counts, report.encoded, report.reused)
    if report.problems:
        shown = "; ".join(str(p) for p in report.problems[:_SHOWN_PROBLEMS])
        more = len(report.problems) - _SHOWN_PROBLEMS
        logger.warning("%d media input(s) unusable, so those items lack that modality: %s%s", len(report.problems),
                       shown, f"; and {more} more" if more > 0 else "")
