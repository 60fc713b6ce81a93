"""The artifact types avrec's components add, and where an Examples artifact keeps a split's files."""
import os

from tfx import v1 as tfx
from tfx.types import artifact_utils


class ContentEmbeddings(tfx.dsl.Artifact):
    """Per-item text, image and audio embeddings with a presence mask (avrec.data.embeddings.CatalogContent)."""

    TYPE_NAME = "avrec.ContentEmbeddings"


class BaselineMetrics(tfx.dsl.Artifact):
    """JSON: {baseline name: {metric name: value}}, plus a `cold` section (see components.score_baselines)."""

    TYPE_NAME = "avrec.BaselineMetrics"


class SpanWindow(tfx.dsl.Artifact):
    """JSON: the spans the latest model trains on, each with its events and examples artifacts' URIs and the time
    its evaluation period began (components.ingest.window)."""

    TYPE_NAME = "avrec.SpanWindow"


def split_files(artifact, split: str | None = None) -> str:
    """Glob of one split's files; without `split`, of the artifact's only split (the catalog has one)."""
    if split is None:
        [split] = artifact_utils.decode_split_names(artifact.split_names)
    return os.path.join(artifact_utils.get_split_uri([artifact], split), "*")
