"""What the Trainer and the Tuner share: Transform's output and the catalog read once into a TrainingData, the model
built from a ModelConfig, and the training datasets with their validation slice.

TFX passes FnArgs; `custom_config` carries the ModelConfig and EncoderConfig as dicts, the catalog's file pattern and
the content embeddings' location (both added by the CatalogTrainer / CatalogTuner executors).
"""
from __future__ import annotations

import dataclasses
import math

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.public import tfxio

from avrec import features as F
from avrec.config import EncoderConfig, ModelConfig
from avrec.data.embeddings import read_content
from avrec.data.examples import read_examples
from avrec.models import preprocessing as P
from avrec.models import validation
from avrec.models.catalog_items import CatalogItems
from avrec.models.encoders.embedders import load_text_embedder
from avrec.models.export import as_raw
from avrec.models.item_content import ItemContent
from avrec.models.optimizer import LazyAdam
from avrec.models.retrieval import TwoTowerModel, sampling_probabilities
from avrec.models.towers import VocabularySizes

CATALOG_PATTERN_KEY = "catalog_pattern"
CONTENT_URI_KEY = "content_uri"
VOCABULARIES = (P.USER_VOCAB, P.ITEM_VOCAB, P.GENRE_VOCAB, P.TOKEN_VOCAB)
COUNTING_BATCH = 8192
HYPERBAND_BOOKKEEPING = "tuner/"  # Hyperband's own values (epochs, bracket, round) beside the searched ones
# What a training batch is parsed for: the query's inputs, the target and the validation slice's choice. The items'
# own features come from the catalog (CatalogItems), so parsing them per example would be wasted.
BATCH_FEATURES = (P.USER_INDEX, P.USER_KEY, P.ITEM_KEY, P.HISTORY_KEYS, P.LATEST, P.WINDOW)


def distribution_strategy() -> tf.distribute.Strategy:
    """All local GPUs when there are any, else the default (CPU) strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if gpus else tf.distribute.get_strategy()


def vocabulary_sizes(tft_output: tft.TFTransformOutput) -> VocabularySizes:
    return VocabularySizes(users=tft_output.vocabulary_size_by_name(P.USER_VOCAB),
                           items=tft_output.vocabulary_size_by_name(P.ITEM_VOCAB),
                           genres=tft_output.vocabulary_size_by_name(P.GENRE_VOCAB),
                           tokens=tft_output.vocabulary_size_by_name(P.TOKEN_VOCAB))


def batch_schema(tft_output: tft.TFTransformOutput) -> schema_pb2.Schema:
    """Transform's output schema cut to BATCH_FEATURES."""
    schema = schema_pb2.Schema()
    schema.CopyFrom(tft_output.transformed_metadata.schema)
    del schema.feature[:]
    schema.feature.extend(feature for feature in tft_output.transformed_metadata.schema.feature
                          if feature.name in BATCH_FEATURES)
    return schema


def load_catalog(pattern: str, raw_feature_spec) -> dict[str, tf.Tensor]:
    spec = {name: raw_feature_spec[name] for name in (F.ITEM_ID, *F.ITEM_CONTENT_FEATURES)}
    catalog = {}
    for name, value in read_examples(pattern, spec).items():
        if isinstance(value, tf.RaggedTensor):
            catalog[name] = value.to_tensor(default_value="")  # dense, "" padded, as requests send lists
        else:
            catalog[name] = tf.reshape(value, [-1])
    return catalog


def transformed_items(transform_layer, raw_spec, catalog: dict) -> dict:
    """The candidate tower's features of every catalog item (the Transform graph on the catalog's content)."""
    content = {name: catalog[name] for name in (F.ITEM_ID, *F.ITEM_CONTENT_FEATURES)}
    return transform_layer({name: as_raw(value, raw_spec[name]) for name, value in content.items()})


def tuned(config: ModelConfig, hyperparameters: dict | None) -> ModelConfig:
    """The config with the Tuner's best values in place (a keras_tuner HyperParameters config, whose searched names
    are ModelConfig fields)."""
    if not hyperparameters:
        return config
    return config.replace(**{name: value for name, value in hyperparameters["values"].items()
                             if not name.startswith(HYPERBAND_BOOKKEEPING)})


@dataclasses.dataclass
class TrainingData:
    fn_args: object
    tft_output: tft.TFTransformOutput
    sizes: VocabularySizes
    catalog: CatalogItems
    titles: tf.Tensor
    content: ItemContent | None
    encoders: EncoderConfig | None
    counts: np.ndarray  # training examples per catalog row (the validation slice left out)
    held: int  # examples in the validation slice
    share: float  # the share of users whose latest example is held out
    windows: int  # rows TimeSplit marks as windows (models.retrieval)
    widest: int  # the most targets one window trains

    @property
    def examples(self) -> int:
        return int(self.counts.sum())

    def _dataset(self, batch_size: int, shuffle: bool, seed: int, epochs: int | None) -> tf.data.Dataset:
        options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle=shuffle, shuffle_seed=seed,
                                                 num_epochs=epochs, shuffle_buffer_size=100_000)
        return self.fn_args.data_accessor.tf_dataset_factory(self.fn_args.train_files, options,
                                                            batch_schema(self.tft_output))

    def every_position(self, config: ModelConfig) -> bool:
        """Whether training reads windows at every position: configured, and each window within the history the
        model keeps (a window needs its first target's history inside it)."""
        return config.every_position and self.windows > 0 and self.widest <= config.history_length + 1

    def windows_per_batch(self, config: ModelConfig) -> int:
        """As many windows as hold about `batch_size` targets."""
        return max(1, round(config.batch_size * self.windows / max(self.examples, 1)))

    def train(self, config: ModelConfig) -> tf.data.Dataset:
        """Shuffled batches, repeating, the validation slice left out: examples, or windows of about as many
        targets with the validation slice's targets marked."""
        examples = self._dataset(config.batch_size, shuffle=True, seed=config.seed, epochs=None)
        if self.every_position(config):
            return validation.windows(examples, self.share, self.windows_per_batch(config))
        return validation.part(examples, self.share, config.batch_size, held=False) if self.held else examples

    def validation(self, config: ModelConfig) -> tf.data.Dataset | None:
        if not self.held:
            return None
        # Cached: every epoch's validation would otherwise scan the whole training set again for its few examples.
        return validation.part(self._dataset(config.batch_size, shuffle=False, seed=0, epochs=1), self.share,
                               config.batch_size, held=True).cache()

    def steps_per_epoch(self, config: ModelConfig) -> int:
        if self.every_position(config):
            return max(1, math.ceil(self.windows / self.windows_per_batch(config)))
        return max(1, math.ceil(self.examples / config.batch_size))


def _count(fn_args, tft_output, catalog: CatalogItems, config: ModelConfig) -> tuple[np.ndarray, int, float, int,
                                                                                    int]:
    """(training examples per catalog row, validation slice size, user share, windows, the widest window), in two
    streaming passes: memory is the catalog, not the log."""
    options = tfxio.TensorFlowDatasetOptions(batch_size=COUNTING_BATCH, shuffle=False, num_epochs=1)

    def batches():
        return fn_args.data_accessor.tf_dataset_factory(fn_args.train_files, options, batch_schema(tft_output))

    latest = sum(int(tf.reduce_sum(batch[P.LATEST])) for batch in batches()) if config.validation_examples else 0
    share = validation.user_share(latest, config.validation_examples)
    counts, held, windows, widest = np.zeros(catalog.size, np.int64), 0, 0, 0
    for batch in batches():
        window = tf.reshape(batch[P.WINDOW], [-1]).numpy()
        windows, widest = windows + int((window > 0).sum()), max(widest, int(window.max(initial=0)))
        rows = catalog.rows_of(tf.reshape(batch[P.ITEM_KEY], [-1])).numpy()
        if share:
            mask = validation.held_out(batch, share).numpy()
            held += int(mask.sum())
            rows = rows[~mask]
        counts += np.bincount(rows[rows >= 0], minlength=catalog.size)
    return counts, held, share, windows, widest


def prepare(fn_args, config: ModelConfig) -> TrainingData:
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    sizes = vocabulary_sizes(tft_output)
    raw_spec = tft_output.raw_feature_spec()
    raw_catalog = load_catalog(fn_args.custom_config[CATALOG_PATTERN_KEY], raw_spec)
    catalog = CatalogItems(transformed_items(tft_output.transform_features_layer(), raw_spec, raw_catalog),
                           oov_index=sizes.items)
    content = encoders = None
    if CONTENT_URI_KEY in fn_args.custom_config:
        embedded = read_content(fn_args.custom_config[CONTENT_URI_KEY])
        content = ItemContent(embedded.item_id, embedded.vectors(), embedded.present, name="item_content")
        encoders = EncoderConfig.from_dict(fn_args.custom_config["encoders"]).resolved()
    counts, held, share, windows, widest = _count(fn_args, tft_output, catalog, config)
    return TrainingData(fn_args, tft_output, sizes, catalog, raw_catalog[F.TITLE], content, encoders, counts, held,
                        share, windows, widest)


def build_model(data: TrainingData, config: ModelConfig) -> TwoTowerModel:
    with distribution_strategy().scope():
        tuned_text = (load_text_embedder(data.encoders.text_encoder, data.encoders.text_preprocessor, trainable=True)
                      if data.encoders and config.finetune_text else None)
        model = TwoTowerModel(data.sizes, config, data.catalog, sampling_probabilities(data.counts), data.content,
                              tuned_text, full_softmax=config.uses_full_softmax(data.catalog.size, data.examples),
                              every_position=data.every_position(config))
        compile_model(model, config)
    return model


def compile_model(model: TwoTowerModel, config: ModelConfig) -> None:
    model.compile(optimizer=LazyAdam(learning_rate=config.learning_rate))
