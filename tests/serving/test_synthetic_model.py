"""The synthetic contract model that the serving benchmark serves: with item text, it serves the content path a
trained model with text serves, so the benchmark pays what a real request pays."""
import numpy as np

import avrec  # noqa: F401  (before TensorFlow)
import tensorflow as tf

from avrec.models.content_path import path_scores, trained_anchor
from tests.support.serving import K, expected_top_k, user_query
from synthetic_model import SyntheticCatalog


def test_a_catalog_with_text_is_served_through_its_content_path(tmp_path):
    catalog = SyntheticCatalog.random(200, num_users=5, dim=8, seed=4, text_dim=12)
    model = tf.saved_model.load(str(catalog.save_model(tmp_path / "1", k=K)))
    answer = model.signatures["serving_default"](user_id=tf.constant(["u1"]), history=tf.constant([["i3", "i7", ""]]))

    path = catalog.content_path()
    rows = tf.constant([[3, 7, -1]], tf.int64)
    towers = catalog.item_embeddings @ user_query(catalog, "u1", ["i3", "i7"])
    towers = tf.constant(towers[np.newaxis], tf.float32)  # the whole catalog's scores, as the fit ranks them
    scores = path_scores(towers, path.affinities(rows, rows >= 0), path.buckets, path.weights, path.thresholds,
                         path.one_sided, path.scales, path.cold, path.temperature,
                         trained_anchor(towers, path.buckets, path.temperature)).numpy()[0]
    scores[[3, 7]] = -np.inf
    top = np.argsort(-scores, kind="stable")[:K]
    assert [item.decode() for item in answer["item_ids"].numpy()[0]] == catalog.item_ids[top].tolist()
    np.testing.assert_allclose(answer["scores"].numpy()[0], scores[top], rtol=1e-4, atol=1e-4)
    assert path.cold.numpy()[0] == 1 and set(path.buckets.numpy()) == {0, 1, 2}  # every bucket's pass is paid
    plain, _ = expected_top_k(catalog, user_query(catalog, "u1", ["i3", "i7"]), ["i3", "i7"], K)
    assert plain != catalog.item_ids[top].tolist()  # the path changes the ranking
