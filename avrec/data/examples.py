"""tf.Example records: canonical frames written as them, and read back as tensors or frames.

A list column (avrec.features.LIST_FEATURES) is a bytes list; str columns are one bytes value; floats and ints one
value each. Files are plain or gzip TFRecords, as ExampleGen writes them.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd
import tensorflow as tf

from avrec import features as F


def feature(value) -> tf.train.Feature:
    if isinstance(value, (list, tuple)):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in value]))
    if isinstance(value, str):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def serialize(values: Mapping[str, object]) -> bytes:
    """One tf.Example of named values (str, float, int, or a list of str)."""
    return tf.train.Example(features=tf.train.Features(
        feature={name: feature(value) for name, value in values.items()})).SerializeToString()


def serialize_rows(frame: pd.DataFrame, columns: Iterable[str]) -> list[bytes]:
    columns = list(columns)
    return [serialize(dict(zip(columns, row))) for row in frame[columns].itertuples(index=False, name=None)]


def _dataset(pattern: str) -> tf.data.Dataset:
    files = tf.io.gfile.glob(pattern)
    compression = "GZIP" if files and files[0].endswith(".gz") else None
    return tf.data.TFRecordDataset(files, compression_type=compression)


def iter_examples(patterns: str | Iterable[str], spec: Mapping, batch_size: int = 8192):
    """The files matching the pattern(s) as batches of parsed tensors (ragged for variable-length features): memory
    bounded by the batch, not the files."""
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        for batch in _dataset(pattern).batch(batch_size):
            parsed = tf.io.parse_example(batch, spec)
            yield {name: tf.RaggedTensor.from_sparse(value) if isinstance(spec[name], tf.io.VarLenFeature) else value
                   for name, value in parsed.items()}


def read_examples(pattern: str, spec: Mapping[str, tf.io.FixedLenFeature | tf.io.VarLenFeature]):
    """Parse the files matching `pattern` into a dict of tensors (ragged for variable-length features): for what is
    as small as the catalog; stream anything as large as the interactions with iter_examples."""
    batches = list(iter_examples(pattern, spec, 4096))
    return {name: tf.concat([batch[name] for batch in batches], axis=0) for name in spec}


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
