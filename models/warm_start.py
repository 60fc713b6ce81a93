"""Warm start: a new model begins where the latest blessed model left off.

Embedding tables are keyed by vocabularies that change from span to span: a row is carried over for every id both
vocabularies hold (and the OOV row), new ids keep their fresh initialisation, ids gone are dropped. Every other
weight is carried over when the layer has the same shape in both models (the same architecture), else left fresh,
and what was carried is logged.
"""
from __future__ import annotations

import os

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.models import preprocessing as P
from avrec.progress import progress

# (tower, layer path to the embedding table, vocabulary it is keyed by)
TABLES = (("query_tower", ("user_embedding",), P.USER_VOCAB),
          ("candidate_tower", ("item_embedding",), P.ITEM_VOCAB),
          ("candidate_tower", ("genres", "embedding"), P.GENRE_VOCAB),
          ("candidate_tower", ("text", "embedding"), P.TOKEN_VOCAB))
# Dense parts matched layer by layer (absent in a model without content: skipped).
DENSE = (("query_tower", "history"), ("query_tower", "user_projection"), ("candidate_tower", "side"),
         ("candidate_tower", "fusion"))


def _attribute(root, path):
    for name in path:
        root = getattr(root, name, None)
        if root is None:
            return None
    return root


def _vocabulary(model_dir: str, name: str) -> list[bytes]:
    with tf.io.gfile.GFile(os.path.join(model_dir, "assets", name), "rb") as handle:
        return handle.read().splitlines()


def carry_rows(new: tf.Variable, old: np.ndarray, new_vocab: list[bytes], old_vocab: list[bytes]) -> int:
    """Copies the rows of ids both vocabularies hold, and the OOV rows after them; returns the ids carried."""
    old_rows = {token: row for row, token in enumerate(old_vocab)}
    pairs = [(row, old_rows[token]) for row, token in enumerate(new_vocab) if token in old_rows]
    oov = min(new.shape[0] - len(new_vocab), old.shape[0] - len(old_vocab))
    pairs += [(len(new_vocab) + bucket, len(old_vocab) + bucket) for bucket in range(oov)]
    if pairs:
        values = new.numpy()
        new_rows, from_rows = map(list, zip(*pairs))
        values[new_rows] = old[from_rows]
        new.assign(values)
    return len(pairs) - oov


def warm_start(model, base_model_dir: str, vocabularies: dict[str, list[bytes]]) -> dict[str, int]:
    """Copies the base model's weights into the built `model`; returns what was carried, by part."""
    base = tf.saved_model.load(base_model_dir)
    carried = {}
    for tower, path, vocabulary in TABLES:
        new, old = _attribute(getattr(model, tower), path), _attribute(getattr(base, tower), path)
        if new is None or old is None or new.embeddings.shape[1] != old.embeddings.shape[1]:
            continue
        carried[vocabulary] = carry_rows(new.embeddings, old.embeddings.numpy(), vocabularies[vocabulary],
                                         _vocabulary(base_model_dir, vocabulary))
    for tower, name in DENSE:
        new, old = _attribute(getattr(model, tower), (name,)), _attribute(getattr(base, tower), (name,))
        if new is None or old is None:
            continue
        pairs = list(zip(new.variables, old.variables))
        if len(new.variables) == len(old.variables) and all(a.shape == b.shape for a, b in pairs):
            for target, source in pairs:
                target.assign(source)
            carried[f"{tower}.{name}"] = len(pairs)
    progress.info("warm start from %s: %s", base_model_dir, ", ".join(f"{k} {v}" for k, v in carried.items()))
    return carried
