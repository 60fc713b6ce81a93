"""The Trainer's module: `run_fn` trains the two-tower model on Transform's output and exports the Recommender.

TFX calls run_fn with FnArgs; `custom_config` carries the ModelConfig and EncoderConfig as dicts, the catalog's file
pattern and the content embeddings' location (both added by components.catalog_trainer): the exported index covers
every catalog item, not only those with interactions in training.
"""
from __future__ import annotations

import math
import time

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx_bsl.public import tfxio

from avrec import features as F
from avrec.config import EncoderConfig, ModelConfig
from avrec.data.embeddings import read_content
from avrec.data.examples import read_examples
from avrec.models import preprocessing as P
from avrec.models.encoders.embedders import load_text_embedder
from avrec.models.export import Recommender, export
from avrec.models.item_content import ItemContent
from avrec.models.retrieval import TwoTowerModel, sampling_probabilities
from avrec.models.towers import VocabularySizes
from avrec.models.warm_start import warm_start
from avrec.progress import progress

CATALOG_PATTERN_KEY = "catalog_pattern"
CONTENT_URI_KEY = "content_uri"


def distribution_strategy() -> tf.distribute.Strategy:
    """All local GPUs when there are any, else the default (CPU) strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if gpus else tf.distribute.get_strategy()


VOCABULARIES = (P.USER_VOCAB, P.ITEM_VOCAB, P.GENRE_VOCAB, P.TOKEN_VOCAB)


def vocabulary_sizes(tft_output: tft.TFTransformOutput) -> VocabularySizes:
    return VocabularySizes(users=tft_output.vocabulary_size_by_name(P.USER_VOCAB),
                           items=tft_output.vocabulary_size_by_name(P.ITEM_VOCAB),
                           genres=tft_output.vocabulary_size_by_name(P.GENRE_VOCAB),
                           tokens=tft_output.vocabulary_size_by_name(P.TOKEN_VOCAB))


def _dataset(fn_args, tft_output, batch_size: int, shuffle: bool, seed: int, epochs: int | None):
    options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle=shuffle, shuffle_seed=seed,
                                             num_epochs=epochs, shuffle_buffer_size=100_000)
    return fn_args.data_accessor.tf_dataset_factory(fn_args.train_files, options,
                                                   tft_output.transformed_metadata.schema)


def train_item_counts(fn_args, tft_output, table_size: int) -> np.ndarray:
    """Training examples per item index, counted in one streaming pass (memory: the item table, not the log)."""
    counts = np.zeros(table_size, np.int64)
    for batch in _dataset(fn_args, tft_output, batch_size=8192, shuffle=False, seed=0, epochs=1):
        counts += np.bincount(batch[P.ITEM_INDEX].numpy().reshape(-1), minlength=table_size)
    return counts


def load_catalog(pattern: str, raw_feature_spec) -> dict[str, np.ndarray]:
    spec = {name: raw_feature_spec[name] for name in (F.ITEM_ID, *F.ITEM_CONTENT_FEATURES)}
    parsed = read_examples(pattern, spec)
    catalog = {}
    for name, value in parsed.items():
        if isinstance(value, tf.RaggedTensor):
            catalog[name] = value.to_tensor(default_value="")  # dense, "" padded, as requests send lists
        else:
            catalog[name] = tf.reshape(value, [-1])
    return catalog


class EpochLog(tf.keras.callbacks.Callback):
    """One progress line per epoch: its loss and wall time."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        progress.info("epoch %d/%d: loss %.4g (%.0f s)", epoch + 1, self.params["epochs"], (logs or {})["loss"],
                      time.monotonic() - self._started)


def run_fn(fn_args) -> None:
    config = ModelConfig.from_dict(fn_args.custom_config["model"])
    tf.keras.utils.set_random_seed(config.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    sizes = vocabulary_sizes(tft_output)

    counts = train_item_counts(fn_args, tft_output, sizes.items + config.oov_buckets)
    probabilities = sampling_probabilities(counts)
    examples = int(counts.sum())
    steps_per_epoch = max(1, math.ceil(examples / config.batch_size))
    logging.info("Training on %d examples, %d steps per epoch, vocabularies %s", examples, steps_per_epoch, sizes)

    content = encoders = None
    if CONTENT_URI_KEY in fn_args.custom_config:
        embedded = read_content(fn_args.custom_config[CONTENT_URI_KEY])
        content = ItemContent(embedded.item_id, embedded.vectors(), embedded.present, name="item_content")
        encoders = EncoderConfig.from_dict(fn_args.custom_config["encoders"]).resolved()
    with distribution_strategy().scope():
        tuned_text = (load_text_embedder(encoders.text_encoder, encoders.text_preprocessor, trainable=True)
                      if encoders and config.finetune_text else None)
        model = TwoTowerModel(sizes, config, probabilities, content, tuned_text)
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=config.learning_rate))
    train = _dataset(fn_args, tft_output, config.batch_size, shuffle=True, seed=config.seed, epochs=None)
    if config.warm_start and fn_args.base_model:
        model.compute_loss(next(iter(train)))  # builds every weight before the base model's are copied in
        warm_start(model, fn_args.base_model, {name: tft_output.vocabulary_by_name(name) for name in VOCABULARIES})
    model.fit(train, epochs=config.epochs, steps_per_epoch=steps_per_epoch, verbose=0,
              callbacks=[EpochLog(), tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir,
                                                                      update_freq="epoch")])

    raw_spec = tft_output.raw_feature_spec()
    catalog = load_catalog(fn_args.custom_config[CATALOG_PATTERN_KEY], raw_spec)
    text_encoder = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor) if encoders else None
    recommender = Recommender(model.query_tower, model.candidate_tower, tft_output.transform_features_layer(),
                              raw_spec, catalog, config.top_k)
    export(recommender, fn_args.serving_model_dir, text_encoder)
