"""`avrec refresh-catalog`: add new items (and re-embed changed ones) to a pushed model from their content alone,
and push the result as a new version that servers pick up like any other. No retraining: the trained candidate
tower embeds each item from its id (the OOV embedding for a new item), genres and text, and, for a model with
content, from the pretrained text embedding computed by the text encoder saved beside it."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

from avrec.content import item_text
from avrec.data.adapters import load_dataset
from avrec.models.predict import resolve_model

BATCH = 2048


def _padded_lists(joined: pd.Series) -> list[list[str]]:
    rows = [value.split("|") if value else [] for value in joined]
    width = max((len(row) for row in rows), default=0) or 1
    return [row + [""] * (width - len(row)) for row in rows]


def refresh_catalog(model_dir: Path, catalog: pd.DataFrame) -> tuple[Path, int, int]:
    """Returns (new version directory, items added, items re-embedded). The version is written beside model_dir
    under a temporary name and renamed into place, so a polling server never sees it half-written."""
    import avrec  # noqa: F401  (legacy Keras before TensorFlow)
    import tensorflow as tf

    from avrec.models.export import TEXT_ENCODER_DIR, load_text_encoder

    model = tf.saved_model.load(str(model_dir))
    encoder = load_text_encoder(model_dir)
    known = int(tf.shape(model.item_ids)[0])
    for start in range(0, len(catalog), BATCH):
        rows = catalog.iloc[start:start + BATCH]
        genres = _padded_lists(rows["genres"])
        if encoder is not None:
            texts = [item_text(title, [g for g in row if g], text)
                     for title, row, text in zip(rows["title"], genres, rows["text"])]
            text_embedding = encoder(text=tf.constant(texts))["embedding"]
        else:
            text_embedding = tf.zeros([len(rows), 1])
        model.upsert_items(tf.constant(rows["item_id"].tolist()), tf.constant(rows["title"].tolist()),
                           tf.constant(genres), tf.constant(rows["text"].tolist()), text_embedding)
    added = int(tf.shape(model.item_ids)[0]) - known
    base = model_dir.parent
    version = max(int(child.name) for child in base.iterdir() if child.name.isdigit()) + 1
    staging = base / f".staging-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    tf.saved_model.save(model, str(staging), signatures=dict(model.signatures))
    if encoder is not None:
        shutil.copytree(model_dir / TEXT_ENCODER_DIR, staging / TEXT_ENCODER_DIR)
    target = base / str(version)
    staging.rename(target)
    return target, added, len(catalog) - added


def refresh_command(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data, format=args.format, max_bad_fraction=args.max_bad_fraction)
    model_dir = resolve_model(args.model, args.output, args.model_name)
    target, added, updated = refresh_catalog(model_dir, dataset.catalog)
    print(f"{added} items added and {updated} re-embedded from content (model {model_dir.name}); "
          f"pushed as version {target.name}: {target}")
    return 0
