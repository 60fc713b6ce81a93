"""tf.Example records: canonical frames written as them, and read back as tensors or frames.

A list column (avrec.features.LIST_FEATURES) is a bytes list; str columns are one bytes value; floats and ints one
value each. Files are plain or gzip TFRecords, as ExampleGen writes them.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd
import tensorflow as tf

from avrec import features as F


def _feature(value) -> tf.train.Feature:
    if isinstance(value, (list, tuple)):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in value]))
    if isinstance(value, str):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def serialize_rows(frame: pd.DataFrame, columns: Iterable[str]) -> list[bytes]:
    columns = list(columns)
    records = []
    for row in frame[columns].itertuples(index=False, name=None):
        example = tf.train.Example(features=tf.train.Features(
            feature={name: _feature(value) for name, value in zip(columns, row)}))
        records.append(example.SerializeToString())
    return records


def _dataset(pattern: str) -> tf.data.Dataset:
    files = tf.io.gfile.glob(pattern)
    compression = "GZIP" if files and files[0].endswith(".gz") else None
    return tf.data.TFRecordDataset(files, compression_type=compression)


def read_examples(pattern: str, spec: Mapping[str, tf.io.FixedLenFeature | tf.io.VarLenFeature]):
    """Parse the files matching `pattern` into a dict of tensors (ragged for variable-length features)."""
    batches = [tf.io.parse_example(batch, spec) for batch in _dataset(pattern).batch(4096)]
    merged = {}
    for name, value in spec.items():
        parts = [b[name] for b in batches]
        if isinstance(value, tf.io.VarLenFeature):
            merged[name] = tf.concat([tf.RaggedTensor.from_sparse(p) for p in parts], axis=0)
        else:
            merged[name] = tf.concat(parts, axis=0)
    return merged


def read_frame(pattern: str, names: Iterable[str]) -> pd.DataFrame:
    """The named features as a frame: str for bytes scalars, list of str for list features, numbers as numbers."""
    values = read_examples(pattern, F.feature_spec(names))
    columns = {}
    for name, tensor in values.items():
        if name in F.LIST_FEATURES:
            columns[name] = [[v.decode() for v in row] for row in tensor.to_list()]
        elif tensor.dtype == tf.string:
            columns[name] = [v.decode() for v in tensor.numpy()]
        else:
            columns[name] = tensor.numpy()
    return pd.DataFrame(columns)
