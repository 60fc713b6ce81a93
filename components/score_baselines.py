"""A component that scores the baselines on the eval split, beside the model: popularity and item-kNN on warm
examples; on cold-start examples also random and, given the catalog's content embeddings, content-only."""

import json
import os

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from avrec import features as F
from avrec.components.artifacts import BaselineMetrics, ContentEmbeddings, split_files
from avrec.data.embeddings import read_content
from avrec.data.examples import read_examples
from avrec.models.baselines.ranks import baseline_metrics, baseline_ranks

METRICS_FILE = "metrics.json"


def read_baseline_metrics(artifact_uri: str) -> dict:
    with open(os.path.join(artifact_uri, METRICS_FILE)) as handle:
        return json.load(handle)


@tfx.dsl.components.component
def Baselines(examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              catalog: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              metrics: tfx.dsl.components.OutputArtifact[BaselineMetrics],
              code: tfx.dsl.components.Parameter[str],
              content: tfx.dsl.components.InputArtifact[ContentEmbeddings] = None) -> None:
    """code: the fingerprint of this code (part of the cache key)."""
    del code
    train = read_examples(split_files(examples, "train"), F.feature_spec((F.USER_ID, F.ITEM_ID)))
    evaluation = read_examples(split_files(examples, "eval"),
                               F.feature_spec((F.USER_ID, F.ITEM_ID, F.HISTORY, F.COLD)))
    catalog_ids = read_examples(split_files(catalog), F.feature_spec((F.ITEM_ID,)))[F.ITEM_ID].numpy()
    item_text = None
    if content is not None:
        embedded = read_content(content.uri)
        item_text = embedded.text[embedded.rows_of(catalog_ids)]
    ranks = baseline_ranks(train[F.USER_ID].numpy(), train[F.ITEM_ID].numpy(), evaluation[F.ITEM_ID].numpy(),
                           evaluation[F.HISTORY].to_list(), catalog_ids, item_text)
    results = baseline_metrics(ranks, evaluation[F.COLD].numpy())
    with open(os.path.join(metrics.uri, METRICS_FILE), "w") as handle:
        json.dump(results, handle, indent=2)
