"""Fusion that never hurts: after training, the Trainer switches off each pretrained modality that does not pay.

A modality is judged on the validation slice (never the evaluation split), twice: its targets as trained (warm) and
read as cold items (content alone, models.validation.recall_at_10's `cold`), since content matters most for items
nobody has watched. Switched off, one at a time, a modality whose absence does not lower the sum of the two
Recall@10s (a cover that carries no signal, noise) stays off: CandidateTower.modality_keep is saved with the model.
Training with modality dropout taught the tower to embed items without any one modality, so switching one off is a
state it has seen.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf

from avrec.features import MODALITIES
from avrec.models.validation import recall_at_10


def _score(model, examples, keep) -> dict[str, float]:
    return {"warm": recall_at_10(model, examples, keep), "cold": recall_at_10(model, examples, keep, cold=True)}


def select_modalities(model, examples: tf.data.Dataset) -> dict:
    """Switches off, in turn, each modality some item has; keeps it off where validation does not drop. Returns
    {"all": scores with every kept modality, "without_<modality>": scores without it, "off": modalities switched
    off}; scores are warm and cold validation Recall@10."""
    tower = model.candidate_tower
    available = tf.reduce_any(tower.content.present, axis=0).numpy()
    keep = tower.modality_keep.numpy() & available
    report = {"all": _score(model, examples, keep), "off": []}
    for number, name in enumerate(MODALITIES):
        if not keep[number]:
            continue
        without = keep.copy()
        without[number] = False
        scores = report[f"without_{name}"] = _score(model, examples, without)
        if sum(scores.values()) >= sum(report["all"].values()):
            keep, report["all"] = without, scores
            report["off"].append(name)
    tower.modality_keep.assign(keep)
    return report
