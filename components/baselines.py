"""A component that scores the baselines on the eval split, beside the model: popularity and item-kNN on warm
examples; on cold-start examples also random and, given the catalog's content embeddings, content-only."""

import json
import os

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from avrec import features as F
from avrec.data.prepare import read_examples
from avrec.content import read_content
from avrec.components.artifacts import split_files
from avrec.components.content_embedder import ContentEmbeddings
from avrec.models.baselines import baseline_metrics, baseline_ranks

METRICS_FILE = "metrics.json"


class BaselineMetrics(tfx.dsl.Artifact):
    """JSON: {baseline name: {metric name: value}}."""

    TYPE_NAME = "avrec.BaselineMetrics"


def read_baseline_metrics(artifact_uri: str) -> dict:
    with open(os.path.join(artifact_uri, METRICS_FILE)) as handle:
        return json.load(handle)


@tfx.dsl.components.component
def Baselines(examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              catalog: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              metrics: tfx.dsl.components.OutputArtifact[BaselineMetrics],
              content: tfx.dsl.components.InputArtifact[ContentEmbeddings] = None) -> None:
    ids = {F.USER_ID: tf.io.FixedLenFeature([], tf.string), F.ITEM_ID: tf.io.FixedLenFeature([], tf.string)}
    train = read_examples(split_files(examples, "train"), ids)
    evaluation = read_examples(split_files(examples, "eval"), {
        **ids, F.HISTORY: tf.io.VarLenFeature(tf.string), F.COLD: tf.io.FixedLenFeature([], tf.int64)})
    catalog_ids = read_examples(split_files(catalog), {F.ITEM_ID: ids[F.ITEM_ID]})[F.ITEM_ID].numpy()
    item_text = None
    if content is not None:
        embedded = read_content(content.uri)
        rows = {item: row for row, item in enumerate(embedded.item_id)}
        item_text = embedded.text[[rows[item] for item in catalog_ids]]
    ranks = baseline_ranks(train[F.USER_ID].numpy(), train[F.ITEM_ID].numpy(), evaluation[F.ITEM_ID].numpy(),
                           evaluation[F.HISTORY].to_list(), catalog_ids, item_text)
    results = baseline_metrics(ranks, evaluation[F.COLD].numpy())
    with open(os.path.join(metrics.uri, METRICS_FILE), "w") as handle:
        json.dump(results, handle, indent=2)
