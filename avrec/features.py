"""Names and types of the features every stage agrees on: the prepared examples, Transform, the model, serving.

Importing this module does not import TensorFlow (the REST client and the CLI's help stay light); `feature_spec`
builds the tf.io parsing spec when it is needed.
"""
from __future__ import annotations

from typing import Iterable

USER_ID = "user_id"
ITEM_ID = "item_id"
RATING = "rating"
TIMESTAMP = "timestamp"
HISTORY = "history"
COLD = "cold"  # 1 when the target item is a cold-start item, held out of training entirely
TARGET_GROUP = "target_group"  # one of TARGET_GROUPS: what training knows of the target item (evaluation slices)
LATEST = "latest"  # 1 on a user's latest training example: the time-based validation slice is drawn from these
WINDOW = "window"  # on training examples: how many trailing items (history, then target) the row trains as a window
HORIZON = "horizon"  # how many leading history items precede the user's evaluation period (the future protocol)
TITLE = "title"
GENRES = "genres"
TEXT = "text"
IMAGE_PATHS = "image_paths"
AUDIO_PATH = "audio_path"
FRAME_PATHS = "frame_paths"

# The pretrained content of an item, in the order of the `present` mask columns everywhere.
MODALITIES = ("text", "image", "audio")

# One row per interaction (train and eval splits).
INTERACTION_FEATURES = (USER_ID, ITEM_ID, RATING, TIMESTAMP, HISTORY, TITLE, GENRES, TEXT, COLD, TARGET_GROUP, LATEST,
                        WINDOW, HORIZON)
# Target items trained on at most this many times form the few-interaction slice.
FEW_INTERACTIONS = 5
# many: trained on more than FEW_INTERACTIONS times; few: at most FEW_INTERACTIONS (0 for
# a warm item first seen in the evaluation period); cold: never (a cold-start item);
# cold_no_history: a cold item as the user's first interaction, which nothing can rank: counted, never scored.
TARGET_GROUPS = ("many", "few", "cold", "cold_no_history")
TRAIN_TARGET_GROUP = "train"  # the target_group of every training example: the groups slice evaluation only
# One row per catalog item, whether or not anyone interacted with it.
CATALOG_FEATURES = (ITEM_ID, TITLE, GENRES, TEXT, IMAGE_PATHS, AUDIO_PATH, FRAME_PATHS)
# What the candidate tower reads about an item besides its id.
ITEM_CONTENT_FEATURES = (TITLE, GENRES, TEXT)

LIST_FEATURES = frozenset({HISTORY, GENRES, IMAGE_PATHS, FRAME_PATHS})
FLOAT_FEATURES = frozenset({RATING})
INTEGER_FEATURES = frozenset({TIMESTAMP, COLD, LATEST, WINDOW, HORIZON})


def feature_spec(names: Iterable[str]) -> dict:
    """The tf.io parsing spec of these features: lists are variable-length strings, the rest scalars."""
    import tensorflow as tf

    def spec(name):
        if name in LIST_FEATURES:
            return tf.io.VarLenFeature(tf.string)
        dtype = tf.float32 if name in FLOAT_FEATURES else tf.int64 if name in INTEGER_FEATURES else tf.string
        return tf.io.FixedLenFeature([], dtype)

    return {name: spec(name) for name in names}


def content_text(title: str, genres: Iterable[str], text: str) -> str:
    """What the pretrained text encoder reads for an item: "title. genre, genre. text", empty parts left out.
    The exported model builds the same string in TensorFlow (models.item_content.content_text_tensor)."""
    return ". ".join(part for part in (title.strip(), ", ".join(g for g in genres if g), text.strip()) if part)
