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


SPEC = {**{name: tf.io.FixedLenFeature([1], tf.string) for name in ("user_id", "item_id", "title", "text")},
        "history": tf.io.VarLenFeature(tf.string), "genres": tf.io.VarLenFeature(tf.string),
        "latest": tf.io.FixedLenFeature([1], tf.int64), "window": tf.io.FixedLenFeature([1], tf.int64)}


def _transformed(rows: list[dict], config: ModelConfig, temp_dir) -> list[dict]:
    """The preprocessing_fn analysed and applied on real Beam."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(SPEC))
    with tft_beam.Context(temp_dir=str(temp_dir), force_tf_compat_v1=False):
        (transformed, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: P.preprocessing_fn(inputs, {"model": config.to_dict()}))
    return transformed


def test_preprocessing_fn_builds_vocabularies_with_oov_on_real_beam(tmp_path):
    rows = [{"user_id": [b"u1"], "item_id": [b"i1"], "history": [], "title": [b"Toy Story (1995)"],
             "genres": [b"Comedy"], "text": [b"pixar"], "latest": [0], "window": [0]},
            {"user_id": [b"u1"], "item_id": [b"i2"], "history": [b"i1", b"zz"], "title": [b"Heat"],
             "genres": [b"Action", b"Crime"], "text": [b""], "latest": [1], "window": [2]}]
    first, second = _transformed(rows, ModelConfig(history_length=3, user_min_examples=2), tmp_path)
    # History items stay raw ids (the model reads them through its catalog), most recent last.
    assert second[P.HISTORY_KEYS].tolist() == [b"i1", b"zz", P.HISTORY_PAD.encode()]
    assert second[P.USER_INDEX] == 0 and second[P.LATEST] == 1  # u1 has 2 examples: in the user vocabulary
    assert (first[P.WINDOW], second[P.WINDOW]) == (0, 2)  # passed through for the Trainer
    assert len(second[P.GENRE_INDICES]) == 2 and len(first[P.TOKEN_INDICES]) == 5  # toy story 1995 comedy pixar


def test_users_with_fewer_examples_than_the_threshold_share_the_oov_id(tmp_path):
    rows = [{"user_id": [user], "item_id": [b"i1"], "title": [b"t"], "text": [b""], "history": [], "genres": [],
             "latest": [0], "window": [1]} for user in [b"busy"] * 3 + [b"rare"]]
    transformed = _transformed(rows, ModelConfig(user_min_examples=3), tmp_path)
    assert [row[P.USER_INDEX] for row in transformed] == [0, 0, 0, 1]  # "rare" is the OOV row (vocabulary size 1)
