"""The pretrained content lookup inside the candidate tower: lookup by raw id, growth by upsert."""
import numpy as np
import tensorflow as tf

from avrec.features import content_text
from avrec.models.item_content import ItemContent, content_text_tensor


def test_item_content_lookup_and_upsert():
    content = ItemContent(np.array([b"a", b"b"]), {"text": np.eye(2, 3), "image": np.ones((2, 4)),
                                                    "audio": np.zeros((2, 1))},
                          np.array([[True, True, False], [True, False, False]]))
    vectors, present = content(tf.constant(["b", "zz"]))
    assert present.numpy().tolist() == [[True, False, False], [False, False, False]]
    np.testing.assert_allclose(vectors["text"].numpy(), [[0, 1, 0], [0, 0, 0]])
    content.upsert(tf.constant(["zz", "a"]), tf.constant([[1.0, 1, 1], [2, 2, 2]]))
    vectors, present = content(tf.constant(["a", "zz"]))
    np.testing.assert_allclose(vectors["text"].numpy(), [[2, 2, 2], [1, 1, 1]])
    assert present.numpy().tolist() == [[True, True, False], [True, False, False]]  # a keeps its image


def test_the_tensorflow_content_text_is_the_python_one():
    text = content_text_tensor(tf.constant(["Heat", "Up"]), tf.constant([["Action", "Crime"], ["", ""]]),
                               tf.constant(["heist", ""]))
    assert [t.decode() for t in text.numpy()] == [content_text("Heat", ["Action", "Crime"], "heist"),
                                                    content_text("Up", [], "")] == ["Heat. Action, Crime. heist", "Up"]
