"""The baselines' view of the training split: what a sequential baseline trains on must be ordered as the pipeline
orders the histories and targets it is scored on."""
import tensorflow as tf

from avrec import features as F
from avrec.components.score_baselines import training_summary
from avrec.data.examples import serialize


def _write(path, events):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for user, item, timestamp in events:
            writer.write(serialize({F.USER_ID: user, F.ITEM_ID: item, F.TIMESTAMP: timestamp}))


def test_items_of_one_timestamp_are_ordered_by_id_as_the_pipeline_orders_them(tmp_path):
    # catalog positions deliberately not in id order: "b" comes first in the catalog, "a" last
    index = {b"b": 0, b"c": 1, b"a": 2, b"d": 3}
    _write(tmp_path / "train.tfrecord", [("u1", "b", 50), ("u1", "c", 30), ("u1", "a", 50), ("u2", "d", 10),
                                        ("u2", "b", 10), ("u2", "x-not-in-catalog", 5), ("u1", "d", 70)])
    summary = training_summary([str(tmp_path / "*.tfrecord")], index, max_users=10, first_day=0, num_days=1)
    sequences = sorted(summary["sequences"], key=len)
    # u2: "b" and "d" share a timestamp -> id order b, d; the item outside the catalog is left out
    assert sequences[0].tolist() == [index[b"b"], index[b"d"]]
    # u1: c (30), then a and b (both 50) in id order, then d (70)
    assert sequences[1].tolist() == [index[b"c"], index[b"a"], index[b"b"], index[b"d"]]
    assert summary["counts"].tolist() == [2, 1, 1, 2]
