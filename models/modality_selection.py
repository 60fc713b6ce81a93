"""Fusion that never hurts: after training, the Trainer switches off each pretrained modality that costs.

A modality is judged on the validation slice (never the evaluation split), twice: its targets as trained (warm) and
read as cold items (content alone, models.validation.hits_at_10's `cold`), since content matters most for items
nobody has watched. Switched off, one at a time, a modality whose absence raises the slice's hits, warm and cold
together, by more than chance (models.validation.beats_by_more_than_chance) stays off: CandidateTower.modality_keep
is saved with the model. A tie keeps it: a slice of a few thousand examples cannot tell a few hits apart, and the
errors are not alike. Training with modality dropout taught the tower to read items without any one modality, so a
noise cover kept costs nothing measurable; a text dropped on a few hits of noise cost 3% of warm Recall@10 on the
test split of short histories, and the content path that ranks cold items by their text.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.features import MODALITIES
from avrec.models.validation import beats_by_more_than_chance, hits_at_10, recall_of


def _hits(model, examples, keep) -> tuple[np.ndarray, dict[str, float]]:
    """(the slice's hits [2, N], warm and read cold; their Recall@10s)."""
    warm, cold = hits_at_10(model, examples, keep), hits_at_10(model, examples, keep, cold=True)
    return np.stack([warm, cold]), {"warm": recall_of(warm), "cold": recall_of(cold)}


def select_modalities(model, examples: tf.data.Dataset) -> dict:
    """Switches off, in turn, each modality some item has; keeps it off where validation gains by more than chance.
    Returns {"all": scores with every kept modality, "without_<modality>": scores without it, "off": modalities
    switched off}; scores are warm and cold validation Recall@10."""
    tower = model.candidate_tower
    available = tf.reduce_any(tower.content.present, axis=0).numpy()
    keep = tower.modality_keep.numpy() & available
    hits, scores = _hits(model, examples, keep)
    report = {"all": scores, "off": []}
    for number, name in enumerate(MODALITIES):
        if not keep[number]:
            continue
        without = keep.copy()
        without[number] = False
        without_hits, report[f"without_{name}"] = _hits(model, examples, without)
        if beats_by_more_than_chance(without_hits, hits):
            keep, hits, report["all"] = without, without_hits, report[f"without_{name}"]
            report["off"].append(name)
    tower.modality_keep.assign(keep)
    return report
