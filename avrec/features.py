"""Names and types of the raw features every stage agrees on: the prepared examples, Transform, the model, serving."""
from __future__ import annotations

import tensorflow as tf

USER_ID = "user_id"
ITEM_ID = "item_id"
RATING = "rating"
TIMESTAMP = "timestamp"
HISTORY = "history"
COLD = "cold"  # 1 when the target item is a cold-start item, held out of training entirely
TITLE = "title"
GENRES = "genres"
TEXT = "text"
IMAGE_PATHS = "image_paths"
AUDIO_PATH = "audio_path"
FRAME_PATHS = "frame_paths"

ITEM_CONTENT_FEATURES = (TITLE, GENRES, TEXT)
LIST_FEATURES = frozenset({HISTORY, GENRES, IMAGE_PATHS, FRAME_PATHS})

# One row per interaction (train and eval splits).
INTERACTION_SPEC = {
    USER_ID: tf.io.FixedLenFeature([], tf.string),
    ITEM_ID: tf.io.FixedLenFeature([], tf.string),
    RATING: tf.io.FixedLenFeature([], tf.float32),
    TIMESTAMP: tf.io.FixedLenFeature([], tf.int64),
    HISTORY: tf.io.VarLenFeature(tf.string),
    TITLE: tf.io.FixedLenFeature([], tf.string),
    GENRES: tf.io.VarLenFeature(tf.string),
    TEXT: tf.io.FixedLenFeature([], tf.string),
    COLD: tf.io.FixedLenFeature([], tf.int64),
}

# One row per catalog item, whether or not anyone interacted with it.
CATALOG_SPEC = {
    ITEM_ID: tf.io.FixedLenFeature([], tf.string),
    TITLE: tf.io.FixedLenFeature([], tf.string),
    GENRES: tf.io.VarLenFeature(tf.string),
    TEXT: tf.io.FixedLenFeature([], tf.string),
    IMAGE_PATHS: tf.io.VarLenFeature(tf.string),
    AUDIO_PATH: tf.io.FixedLenFeature([], tf.string),
    FRAME_PATHS: tf.io.VarLenFeature(tf.string),
}
