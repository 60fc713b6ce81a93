"""The content embeddings artifact: every catalog item's pretrained text, image and audio vectors.

`embeddings.npz` holds item_id, one matrix per modality (avrec.features.MODALITIES) and the `present` mask;
`report.json` what the embedding job did. Written and read through tf.io.gfile, so an artifact may live on GCS.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
from typing import Mapping

import numpy as np
import tensorflow as tf

from avrec.errors import AvrecError
from avrec.features import MODALITIES

EMBEDDINGS_FILE = "embeddings.npz"
REPORT_FILE = "report.json"


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
    present: np.ndarray  # bool [N, len(MODALITIES)]
    report: ContentReport | None = None

    def vectors(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in MODALITIES}

    def rows_of(self, item_ids) -> np.ndarray:
        """Row of each item id (bytes) in this artifact; an id it lacks is a user-facing error."""
        rows = {item: row for row, item in enumerate(self.item_id)}
        missing = [item for item in item_ids if item not in rows]
        if missing:
            raise AvrecError(f"the content embeddings lack {len(missing)} catalog item(s), e.g. {missing[:3]}; "
                             "rerun the ContentEmbedder on this catalog")
        return np.array([rows[item] for item in item_ids], dtype=np.int64)


def write_content(content: CatalogContent, artifact_uri: str) -> None:
    tf.io.gfile.makedirs(artifact_uri)
    buffer = io.BytesIO()
    np.savez(buffer, item_id=content.item_id, present=content.present, **content.vectors())
    with tf.io.gfile.GFile(os.path.join(artifact_uri, EMBEDDINGS_FILE), "wb") as handle:
        handle.write(buffer.getvalue())
    if content.report is not None:
        with tf.io.gfile.GFile(os.path.join(artifact_uri, REPORT_FILE), "w") as handle:
            handle.write(json.dumps(dataclasses.asdict(content.report), indent=2))


def read_content(artifact_uri: str) -> CatalogContent:
    path = os.path.join(artifact_uri, EMBEDDINGS_FILE)
    if not tf.io.gfile.exists(path):
        raise AvrecError(f"no content embeddings at {path}: run the ContentEmbedder component first")
    with tf.io.gfile.GFile(path, "rb") as handle:
        with np.load(io.BytesIO(handle.read()), allow_pickle=False) as arrays:
            content = CatalogContent(**{name: arrays[name] for name in ("item_id", *MODALITIES, "present")})
    report_path = os.path.join(artifact_uri, REPORT_FILE)
    if tf.io.gfile.exists(report_path):
        with tf.io.gfile.GFile(report_path) as handle:
            content.report = ContentReport.from_dict(json.load(handle))
    return content
