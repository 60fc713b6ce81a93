"""The served item index and its growable rows."""
import numpy as np
import tensorflow as tf

from avrec.models.index import GrowableRows, ItemIndex, excluded_mask


def test_growable_rows_keep_known_ids_and_append_new_ones():
    rows = GrowableRows(np.array([b"a", b"b"]))
    assert rows.lookup(tf.constant([["b", "zz"], ["a", ""]])).numpy().tolist() == [[1, -1], [0, -1]]
    assert rows.insert(tf.constant(["c", "a", "d"])).numpy().tolist() == [2, 0, 3]
    assert rows.ids.numpy().tolist() == [b"a", b"b", b"c", b"d"] and int(rows.size()) == 4


def test_excluded_mask_ignores_unknown_rows():
    mask = excluded_mask(tf.constant([[2, -1], [0, 0]], tf.int64), 3).numpy().tolist()
    assert mask == [[False, False, True], [True, False, False]]


def test_top_k_excludes_and_upsert_grows_the_index():
    index = ItemIndex(np.array([b"a", b"b", b"c"]), tf.constant([[1.0, 0], [0, 1], [0.7, 0.7]]),
                      np.array([b"A", b"B", b"C"]))
    top = index.top_k(index.scores(tf.constant([[1.0, 0.1]])), tf.constant([["a", ""]]), k=2)
    assert top["item_ids"].numpy().tolist() == [[b"c", b"b"]]
    rows = index.upsert(tf.constant(["d", "b"]), tf.constant([[2.0, 0], [0, -1]]), tf.constant(["D", "B2"]))
    assert rows.numpy().tolist() == [3, 1]
    top = index.top_k(index.scores(tf.constant([[1.0, 0.1]])), tf.constant([[""]]), k=4)
    assert top["item_ids"].numpy().tolist() == [[b"d", b"a", b"c", b"b"]]
    assert index.titles_of(tf.constant(["b", "d", "nope"])).numpy().tolist() == [b"B2", b"D", b""]
    embeddings, known = index.embeddings_of(tf.constant(["d", "nope"]))
    assert known.numpy().tolist() == [True, False] and embeddings.numpy()[0].tolist() == [2.0, 0.0]
