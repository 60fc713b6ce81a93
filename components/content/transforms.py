"""The embedding job's Beam transforms: hash every input, look it up in the cache, encode what is missing in
batches (encoders loaded once per worker), fan vectors out to the items that share an input, pool per item."""
from __future__ import annotations

from collections import defaultdict

import apache_beam as beam
import numpy as np

from avrec.config import EncoderConfig
from avrec.data.embeddings import MediaProblem
from avrec.features import MODALITIES
from avrec.components.content.cache import VectorStore, content_key
from avrec.components.content.media import DECODE_ERRORS, DECODERS, CatalogItem, read_file, unreadable

COUNTERS = "avrec.content"
# Inputs per batch: texts are sorted by length within a batch and encoded TEXT_CALL at a time, so each encoder call
# pads to a similar length (3x faster than catalog order on MovieLens); full-size video frames are large.
BATCH_SIZES = {"text": 1024, "image": 16, "audio": 4}
TEXT_CALL = 64
PROBLEMS = "problems"


def item_inputs(item: CatalogItem, identities: dict[str, str]):
    """Item -> ((modality, key), (item_id, role, source)) per input, or a MediaProblem for a modality whose files
    cannot all be read (that modality then has no inputs for the item)."""
    if item.text:
        yield ("text", content_key(identities["text"], item.text.encode())), (item.item_id, "text", item.text)
    else:
        yield beam.pvalue.TaggedOutput(PROBLEMS, MediaProblem(item.item_id, "text", "",
                                                              "title, genres and text are all empty"))
    for modality, files in (("image", [*(("cover", p) for p in item.covers), *(("frame", p) for p in item.frames)]),
                            ("audio", [("audio", item.audio)] if item.audio else [])):
        uses = []
        for role, path in files:
            try:
                key = content_key(identities[modality], read_file(path))
            except OSError as e:
                yield beam.pvalue.TaggedOutput(PROBLEMS, MediaProblem(item.item_id, modality, path, unreadable(e)))
                break
            uses.append(((modality, key), (item.item_id, role, path)))
        else:
            yield from uses


class CacheLookup(beam.DoFn):
    """(modality, key), source -> the cached vector (main output) or the input to encode ('missing')."""

    def __init__(self, cache_dir: str, identities: dict[str, str]):
        self._cache_dir, self._identities = cache_dir, identities

    def setup(self):
        self._cached = {m: VectorStore(self._cache_dir, m, identity).load()
                        for m, identity in self._identities.items()}
        self._reused = {m: beam.metrics.Metrics.counter(COUNTERS, f"{m}_reused") for m in MODALITIES}

    def process(self, element):
        (modality, key), source = element
        vector = self._cached[modality].get(key)
        if vector is None:
            yield beam.pvalue.TaggedOutput("missing", element)
        else:
            self._reused[modality].inc()
            yield (modality, key), vector


class Encode(beam.DoFn):
    """Batches of one modality's inputs -> ((modality, key), vector), or ((modality, key), reason) on 'failed'."""

    def __init__(self, modality: str, encoders: EncoderConfig, identity: str):
        self._modality, self._encoders, self._identity = modality, encoders, identity

    def setup(self):
        from avrec.models.encoders.embedders import load_embedder

        self._embedder = load_embedder(self._modality, self._encoders)
        self._encoded = beam.metrics.Metrics.counter(COUNTERS, f"{self._modality}_encoded")

    def _decode(self, path: str, key: str):
        """(the file's media, None), or (None, why it cannot be used)."""
        try:
            data = read_file(path)
        except OSError as e:
            return None, unreadable(e)
        if content_key(self._identity, data) != key:
            return None, "the file changed while the catalog was being embedded"
        try:
            return DECODERS[self._modality](data), None
        except DECODE_ERRORS[self._modality] as e:
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


class EmbedCatalog(beam.PTransform):
    """CatalogItems -> (item_id, modality, vector) per item and modality it has, or a MediaProblem; new vectors are
    appended to the cache as a side effect."""

    def __init__(self, encoders: EncoderConfig, identities: dict[str, str], cache_dir: str, modalities: set[str]):
        super().__init__()
        self._encoders, self._identities, self._cache_dir = encoders, identities, cache_dir
        self._modalities = sorted(modalities)

    def expand(self, items):
        hashed = items | "Hash" >> beam.FlatMap(item_inputs, self._identities).with_outputs(PROBLEMS, main="uses")
        looked_up = (hashed.uses | "Sources" >> beam.Map(lambda use: (use[0], use[1][2]))
                     | "Distinct" >> beam.CombinePerKey(min)
                     | "Lookup" >> beam.ParDo(CacheLookup(self._cache_dir, self._identities))
                     .with_outputs("missing", main="cached"))
        encoded, failed = [], []
        for modality in self._modalities:
            outputs = (looked_up.missing | f"Only{modality}" >> beam.Filter(lambda e, m=modality: e[0][0] == m)
                       | f"Batch{modality}" >> beam.BatchElements(min_batch_size=BATCH_SIZES[modality],
                                                                  max_batch_size=BATCH_SIZES[modality])
                       | f"Encode{modality}" >> beam.ParDo(Encode(modality, self._encoders,
                                                                  self._identities[modality]))
                       .with_outputs("failed", main="vectors"))
            encoded.append(outputs.vectors)
            failed.append(outputs.failed)
        new = encoded | "New" >> beam.Flatten()
        _ = (new | "ByModality" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
             | "GroupNew" >> beam.GroupByKey()
             | "AppendToCache" >> beam.Map(_append_to_cache, self._cache_dir, self._identities))
        per_item = ({"uses": hashed.uses, "vectors": (looked_up.cached, new) | "Vectors" >> beam.Flatten(),
                     "failures": failed | "Failures" >> beam.Flatten()}
                    | "Join" >> beam.CoGroupByKey()
                    | "FanOut" >> beam.FlatMap(_uses_with_outcome)
                    | "PerItem" >> beam.GroupByKey()
                    | "Pool" >> beam.FlatMap(_pool))
        return (per_item, hashed[PROBLEMS]) | "Results" >> beam.Flatten()
