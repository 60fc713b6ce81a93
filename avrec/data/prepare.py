"""Source data -> the pipeline's canonical inputs: TFRecord files of tf.Examples that ImportExampleGen reads.

Layout under the prepared directory (ExampleGen's input base):
    interactions/train/data.tfrecord, interactions/eval/data.tfrecord   (time-based split, see split.py)
    catalog/items/data.tfrecord                                            (every catalog item)
    bad_rows.json                                                          (the load's bad-row report)
    digests/                                                               (what each file holds, to skip rewrites)

Files are rewritten only when their bytes change, so ExampleGen's input fingerprint, and with it every cached
component downstream, stays the same across runs on unchanged data.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import tensorflow as tf

from avrec import features as F
from avrec.config import DataConfig
from avrec.data.adapters import Dataset, load_dataset
from avrec.data.examples import serialize_rows
from avrec.data.split import time_split

TRAIN_PATTERN = "interactions/train/*"
EVAL_PATTERN = "interactions/eval/*"
CATALOG_PATTERN = "catalog/items/*"


@dataclasses.dataclass(frozen=True)
class PreparedData:
    root: Path
    dataset: Dataset
    n_train: int
    n_eval: int
    n_users: int
    n_items: int


def _write_if_changed(root: Path, relative: str, records: list[bytes]) -> None:
    """TFRecord framing is deterministic, so equal records give equal files; compare digests before writing.
    Digests live outside the split folders, which ExampleGen reads whole."""
    digest = hashlib.sha256(b"".join(len(r).to_bytes(8, "little") + r for r in records)).hexdigest()
    path = root / relative
    stamp = root / "digests" / (relative.replace("/", "__") + ".sha256")
    if path.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    stamp.write_text(digest)


def write_examples(dataset: Dataset, config: DataConfig, root: Path) -> PreparedData:
    split = time_split(dataset.interactions, dataset.catalog, config)
    _write_if_changed(root, "interactions/train/data.tfrecord", serialize_rows(split.train, F.INTERACTION_FEATURES))
    _write_if_changed(root, "interactions/eval/data.tfrecord", serialize_rows(split.eval, F.INTERACTION_FEATURES))
    _write_if_changed(root, "catalog/items/data.tfrecord", serialize_rows(dataset.catalog, F.CATALOG_FEATURES))
    (root / "bad_rows.json").write_text(json.dumps(dataset.report.to_dict(), indent=2))
    return PreparedData(root=root, dataset=dataset, n_train=len(split.train), n_eval=len(split.eval),
                        n_users=dataset.interactions["user_id"].nunique(), n_items=len(dataset.catalog))


def prepare(config: DataConfig, root: Path) -> PreparedData:
    dataset = load_dataset(config.source_path, format=config.format, max_bad_fraction=config.max_bad_fraction)
    return write_examples(dataset, config, root)
