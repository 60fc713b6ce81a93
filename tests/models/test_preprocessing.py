"""Transform's preprocessing_fn: text normalisation, history windows, vocabularies with OOV on real Beam."""
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import preprocessing as P


def test_normalize_text_is_unicode_aware():
    text = tf.constant(["Amélie (2001)", "CRAZY, Stupid... LOVE!", "千と千尋の神隠し"])
    assert P.normalize_text(text).numpy().tolist() == [
        "amélie 2001".encode(), b"crazy stupid love", "千と千尋の神隠し".encode()]


def test_last_n_keeps_the_most_recent_items_and_pads_on_the_right():
    ids = tf.ragged.constant([[1, 2, 3, 4], [5], []], dtype=tf.int64)
    assert P.last_n(ids, 3, -1).numpy().tolist() == [[2, 3, 4], [5, -1, -1], [-1, -1, -1]]


def test_preprocessing_fn_builds_vocabularies_with_oov_on_real_beam(tmp_path):
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    spec = {"user_id": tf.io.FixedLenFeature([1], tf.string), "item_id": tf.io.FixedLenFeature([1], tf.string),
            "history": tf.io.VarLenFeature(tf.string), "title": tf.io.FixedLenFeature([1], tf.string),
            "genres": tf.io.VarLenFeature(tf.string), "text": tf.io.FixedLenFeature([1], tf.string)}
    rows = [{"user_id": [b"u1"], "item_id": [b"i1"], "history": [], "title": [b"Toy Story (1995)"],
             "genres": [b"Comedy"], "text": [b"pixar"]},
            {"user_id": [b"u1"], "item_id": [b"i2"], "history": [b"i1", b"zz"], "title": [b"Heat"],
             "genres": [b"Action", b"Crime"], "text": [b""]}]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    config = {"model": ModelConfig(history_length=3).to_dict()}
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        (transformed, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: P.preprocessing_fn(inputs, config))
    second = transformed[1]
    # Two items in the vocabulary; "zz" is unseen and lands in the OOV bucket (index 2).
    assert second[P.HISTORY_INDICES].tolist() == [transformed[0][P.ITEM_INDEX], 2, P.HISTORY_PAD]
    assert len(second[P.GENRE_INDICES]) == 2 and len(transformed[0][P.TOKEN_INDICES]) == 5  # toy story 1995 comedy pixar
