"""A component that scores the popularity and item-kNN baselines on the eval split, beside the model."""

import json
import os

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact_utils, standard_artifacts

from avrec import features as F
from avrec.data.prepare import read_examples
from avrec.models.baselines import baseline_metrics

METRICS_FILE = "metrics.json"


class BaselineMetrics(tfx.dsl.Artifact):
    """JSON: {baseline name: {metric name: value}}."""

    TYPE_NAME = "avrec.BaselineMetrics"


def _split_pattern(artifact, split: str) -> str:
    return os.path.join(artifact_utils.get_split_uri([artifact], split), "*")


def read_baseline_metrics(artifact_uri: str) -> dict:
    with open(os.path.join(artifact_uri, METRICS_FILE)) as handle:
        return json.load(handle)


@tfx.dsl.components.component
def Baselines(examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              catalog: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              metrics: tfx.dsl.components.OutputArtifact[BaselineMetrics]) -> None:
    ids = {F.USER_ID: tf.io.FixedLenFeature([], tf.string), F.ITEM_ID: tf.io.FixedLenFeature([], tf.string)}
    train = read_examples(_split_pattern(examples, "train"), ids)
    evaluation = read_examples(_split_pattern(examples, "eval"), {**ids, F.HISTORY: tf.io.VarLenFeature(tf.string)})
    [catalog_split] = artifact_utils.decode_split_names(catalog.split_names)
    items = read_examples(_split_pattern(catalog, catalog_split), {F.ITEM_ID: ids[F.ITEM_ID]})
    results = baseline_metrics(train[F.USER_ID].numpy(), train[F.ITEM_ID].numpy(), evaluation[F.ITEM_ID].numpy(),
                               evaluation[F.HISTORY].to_list(), items[F.ITEM_ID].numpy())
    with open(os.path.join(metrics.uri, METRICS_FILE), "w") as handle:
        json.dump(results, handle, indent=2)
