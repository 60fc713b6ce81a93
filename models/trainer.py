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
from avrec.models import validation
from avrec.models.encoders.embedders import load_text_embedder
from avrec.models.export import Recommender, as_raw, export
from avrec.models.item_content import ItemContent
from avrec.models.retrieval import TwoTowerModel, catalog_rows, sampling_probabilities
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


def train_item_counts(fn_args, tft_output, table_size: int, validation_share: float) -> tuple[np.ndarray, int]:
    """Training examples per item index (the validation slice left out) and the size of that slice, counted in one
    streaming pass (memory: the item table, not the log)."""
    counts, held = np.zeros(table_size, np.int64), 0
    for batch in _dataset(fn_args, tft_output, batch_size=8192, shuffle=False, seed=0, epochs=1):
        items = batch[P.ITEM_INDEX].numpy().reshape(-1)
        if validation_share:
            mask = validation.held_out(batch, validation_share).numpy()
            held += int(mask.sum())
            items = items[~mask]
        counts += np.bincount(items, minlength=table_size)
    return counts, held


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


def transformed_items(transform_layer, raw_spec, catalog: dict) -> dict:
    """The candidate tower's features of every catalog item (the Transform graph on the catalog's content)."""
    content = {name: catalog[name] for name in (F.ITEM_ID, *F.ITEM_CONTENT_FEATURES)}
    return transform_layer({name: as_raw(value, raw_spec[name]) for name, value in content.items()})


class EpochLog(tf.keras.callbacks.Callback):
    """One progress line per epoch: its loss and wall time."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        progress.info("epoch %d/%d: loss %.4g%s (%.0f s)", epoch + 1, self.params["epochs"], logs["loss"],
                      f", validation Recall@10 {logs[validation.MONITOR]:.4f}" if validation.MONITOR in logs else "",
                      time.monotonic() - self._started)


def run_fn(fn_args) -> None:
    config = ModelConfig.from_dict(fn_args.custom_config["model"])
    tf.keras.utils.set_random_seed(config.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    sizes = vocabulary_sizes(tft_output)

    counts, held = train_item_counts(fn_args, tft_output, sizes.items + config.oov_buckets, config.validation_share)
    probabilities = sampling_probabilities(counts)
    examples = int(counts.sum())
    steps_per_epoch = max(1, math.ceil(examples / config.batch_size))
    logging.info("Training on %d examples, %d steps per epoch, vocabularies %s", examples, steps_per_epoch, sizes)
    progress.info("training on %d examples, stopping on a validation slice of %d", examples, held)

    content = encoders = None
    if CONTENT_URI_KEY in fn_args.custom_config:
        embedded = read_content(fn_args.custom_config[CONTENT_URI_KEY])
        content = ItemContent(embedded.item_id, embedded.vectors(), embedded.present, name="item_content")
        encoders = EncoderConfig.from_dict(fn_args.custom_config["encoders"]).resolved()
    raw_spec = tft_output.raw_feature_spec()
    catalog = load_catalog(fn_args.custom_config[CATALOG_PATTERN_KEY], raw_spec)
    full_softmax = config.uses_full_softmax(len(catalog[F.ITEM_ID]))
    items = transformed_items(tft_output.transform_features_layer(), raw_spec, catalog) if held or full_softmax \
        else None
    softmax_catalog = items if full_softmax else None
    progress.info("loss: %s", f"full softmax over the catalog's {len(catalog[F.ITEM_ID])} items"
                  if softmax_catalog is not None else
                  f"in-batch softmax with log-Q correction ({len(catalog[F.ITEM_ID])} catalog items, "
                  f"full_softmax_max_items={config.full_softmax_max_items}, loss={config.loss})")
    with distribution_strategy().scope():
        tuned_text = (load_text_embedder(encoders.text_encoder, encoders.text_preprocessor, trainable=True)
                      if encoders and config.finetune_text else None)
        model = TwoTowerModel(sizes, config, probabilities, content, tuned_text, softmax_catalog)
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=config.learning_rate))
    train = _dataset(fn_args, tft_output, config.batch_size, shuffle=True, seed=config.seed, epochs=None)
    callbacks = [EpochLog(), tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch")]
    if held:
        train = validation.part(train, config.validation_share, config.batch_size, held=False)
        held_out = validation.part(_dataset(fn_args, tft_output, config.batch_size, shuffle=False, seed=0, epochs=1),
                                   config.validation_share, config.batch_size, held=True)
        rows = catalog_rows(items, sizes.items + config.oov_buckets)
        callbacks[:0] = [validation.ValidationRecall(held_out, items, rows),
                         tf.keras.callbacks.EarlyStopping(validation.MONITOR, mode="max", patience=config.patience,
                                                          restore_best_weights=True)]
    if config.warm_start and fn_args.base_model:
        model.compute_loss(next(iter(train)))  # builds every weight before the base model's are copied in
        warm_start(model, fn_args.base_model, {name: tft_output.vocabulary_by_name(name) for name in VOCABULARIES})
    model.fit(train, epochs=config.epochs, steps_per_epoch=steps_per_epoch, verbose=0, callbacks=callbacks)

    text_encoder = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor) if encoders else None
    recommender = Recommender(model.query_tower, model.candidate_tower, tft_output.transform_features_layer(),
                              raw_spec, catalog, config.top_k)
    export(recommender, fn_args.serving_model_dir, text_encoder)
