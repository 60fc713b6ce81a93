"""Catalog refresh: add new items (and re-embed changed ones) to a pushed model from their content alone, and push
the result as a new version that servers pick up like any other.

No retraining: the model's trained candidate tower (its saved `upsert_items` function) embeds each item from its id
(the OOV embedding for a new item), genres and text, and, for a model with content, from the pretrained text
embedding computed by the text encoder saved beside it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from avrec import features as F
from avrec import versions
from avrec.serving.text_encoder import load_text_encoder, text_encoder_dir

BATCH = 2048


def _padded(lists: list[list[str]]) -> list[list[str]]:
    width = max((len(row) for row in lists), default=0) or 1
    return [list(row) + [""] * (width - len(row)) for row in lists]


def refresh_catalog(model_dir: Path, catalog: pd.DataFrame) -> tuple[Path, int, int]:
    """Returns (new version directory, items added, items re-embedded). The version is written beside model_dir
    under a temporary name and renamed into place, so a polling server never sees it half-written."""
    import avrec  # noqa: F401  (legacy Keras before TensorFlow)
    import tensorflow as tf

    model = tf.saved_model.load(str(model_dir))
    encoder_dir = text_encoder_dir(model_dir)
    encoder = load_text_encoder(encoder_dir) if encoder_dir.is_dir() else None
    known = int(tf.shape(model.index.rows.ids)[0])
    for start in range(0, len(catalog), BATCH):
        rows = catalog.iloc[start:start + BATCH]
        genres = rows[F.GENRES].tolist()
        if encoder is not None:
            text_embedding = tf.constant(encoder([F.content_text(title, row, text) for title, row, text in
                                                  zip(rows[F.TITLE], genres, rows[F.TEXT])]))
        else:
            text_embedding = tf.zeros([len(rows), 1])
        model.upsert_items(tf.constant(rows[F.ITEM_ID].tolist()), tf.constant(rows[F.TITLE].tolist()),
                           tf.constant(_padded(genres)), tf.constant(rows[F.TEXT].tolist()), text_embedding)
    added = int(tf.shape(model.index.rows.ids)[0]) - known
    base = model_dir.parent
    version = versions.next_version(base)
    staging = base / f".staging-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    tf.saved_model.save(model, str(staging), signatures=dict(model.signatures))
    if encoder is not None:
        shutil.copytree(encoder_dir, text_encoder_dir(staging))
    target = base / str(version)
    staging.rename(target)
    return target, added, len(catalog) - added
