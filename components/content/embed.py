"""Content embeddings of a whole catalog, computed on Beam and assembled into a CatalogContent.

The catalog's metadata (ids, text, media paths) is read by the driver; hashing, decoding and encoding, the heavy
part, run on the Beam pipeline the caller gives (the TFX component passes its own, configured by the pipeline's
beam_pipeline_args), so they scale out with the rest of the pipeline. An item's media that cannot be read or decoded
makes that modality absent for the item and is reported, never a crash and never a silent drop.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import tempfile

import apache_beam as beam
import numpy as np
import pandas as pd
import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter

from avrec.config import EncoderConfig
from avrec.data.embeddings import CatalogContent, ContentReport, MediaProblem
from avrec.features import MODALITIES
from avrec.components.content.cache import VectorStore, encoder_identities
from avrec.components.content.media import CatalogItem, catalog_items
from avrec.components.content.transforms import COUNTERS, EmbedCatalog

logger = logging.getLogger(__name__)
_SHOWN_PROBLEMS = 5
_RESULTS = "results"


def _modalities_used(items: list[CatalogItem]) -> set[str]:
    return {"text", *(["image"] if any(item.covers or item.frames for item in items) else []),
            *(["audio"] if any(item.audio for item in items) else [])}


def _run(pipeline: beam.Pipeline, items: list[CatalogItem], encoders: EncoderConfig, identities: dict[str, str],
         cache_dir: str, work_dir: str) -> tuple[list, dict[str, int]]:
    """Runs the job; returns its results ((item_id, modality, vector) or MediaProblem) and its counters."""
    prefix = os.path.join(work_dir, _RESULTS)
    _ = (pipeline | "Items" >> beam.Create(items)
         | "Embed" >> EmbedCatalog(encoders, identities, cache_dir, _modalities_used(items))
         | "Write" >> beam.io.WriteToTFRecord(prefix, coder=beam.coders.PickleCoder()))
    result = pipeline.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace(COUNTERS))["counters"]
    files = tf.io.gfile.glob(prefix + "*")
    results = [pickle.loads(record) for record in tf.data.TFRecordDataset(files).as_numpy_iterator()]
    return results, {counter.key.metric.name: counter.committed for counter in counters}


def embed_catalog(catalog: pd.DataFrame, encoders: EncoderConfig, cache_dir: str,
                  pipeline: beam.Pipeline | None = None, work_dir: str | None = None) -> CatalogContent:
    """Embeds every catalog item (columns as avrec.features.CATALOG_FEATURES) with the encoders of `encoders`,
    reusing and extending the cache in cache_dir. `work_dir` holds the job's results until they are assembled
    (a temporary folder by default; a shared one when the pipeline runs on many machines)."""
    encoders = encoders.resolved()
    items = catalog_items(catalog, encoders.frames_per_video)
    identities = encoder_identities(encoders)
    with tempfile.TemporaryDirectory() as scratch:
        work_dir = work_dir or scratch
        results, counters = _run(pipeline or beam.Pipeline(), items, encoders, identities, cache_dir, work_dir)
        for path in tf.io.gfile.glob(os.path.join(work_dir, _RESULTS) + "*"):
            tf.io.gfile.remove(path)
    for modality, identity in identities.items():
        VectorStore(cache_dir, modality, identity).compact()
    return _assemble(items, results, counters, encoders)


def _assemble(items: list[CatalogItem], results: list, counters: dict[str, int],
              encoders: EncoderConfig) -> CatalogContent:
    index = {item.item_id: row for row, item in enumerate(items)}
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
    report = ContentReport(handles={k: v for k, v in dataclasses.asdict(encoders).items() if isinstance(v, str)},
                           encoded={m: counters.get(f"{m}_encoded", 0) for m in MODALITIES},
                           reused={m: counters.get(f"{m}_reused", 0) for m in MODALITIES}, problems=problems)
    _log_summary(len(items), present, report)
    return CatalogContent(item_id=np.array([item.item_id.encode() for item in items]), present=present, report=report,
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
