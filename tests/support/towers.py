"""Transformed-feature batches and a small catalog for the model tests, as Transform's output would give them."""
import tensorflow as tf

from avrec.models import preprocessing as P
from avrec.models.catalog_items import CatalogItems
from avrec.models.towers import VocabularySizes

SIZES = VocabularySizes(users=5, items=8, genres=3, tokens=20)


def key(item: int) -> str:
    return f"i{item}"


def item_features(items: list[int]) -> dict:
    """Candidate features of items by vocabulary index (an index >= SIZES.items is an item training never saw: the
    OOV id, with its own words)."""
    return {
        P.ITEM_INDEX: tf.constant([min(item, SIZES.items) for item in items], tf.int64),
        P.ITEM_KEY: tf.constant([key(item) for item in items]),
        P.GENRE_INDICES: tf.sparse.from_dense(tf.constant([[1, 0]] * len(items), tf.int64)),
        P.TOKEN_INDICES: tf.ragged.constant([[item % 20, (item + 3) % 20] for item in items], tf.int64).to_sparse(),
    }


def catalog(items: int = SIZES.items) -> CatalogItems:
    """Items 0 .. items-1 (those from SIZES.items on are cold: never trained on)."""
    return CatalogItems(item_features(list(range(items))), oov_index=SIZES.items)


def features(users, items, histories, config, latest=None, window=None):
    """Training-example features: users and items by index, histories as lists of item indices, oldest first; window:
    the targets each row trains as a window (models.retrieval)."""
    histories = [[key(item) for item in history] for history in histories]
    ragged = (tf.ragged.constant(histories, dtype=tf.string, ragged_rank=1) if any(histories)
              else tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.string), [0] * len(users)))
    return {
        **item_features(list(items)),
        P.USER_INDEX: tf.constant(users, tf.int64),
        P.USER_KEY: tf.constant([f"u{user}" for user in users]),
        P.HISTORY_KEYS: P.last_n(ragged, config.history_length, P.HISTORY_PAD),
        P.LATEST: tf.constant(latest if latest is not None else [0] * len(users), tf.int64),
        P.WINDOW: tf.constant(window if window is not None else [1] * len(users), tf.int64),
    }
