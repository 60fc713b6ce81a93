"""Embeds the whole item catalog with the pretrained text, image and audio encoders (see avrec/content.py).

The cache in cache_dir outlives pipeline runs and is keyed by content, so a changed catalog re-encodes only the
items whose text or media changed. The output holds `embeddings.npz` (read it with avrec.content.read_content) and
`report.json` (inputs encoded vs reused, media problems).
"""

from tfx import v1 as tfx
from tfx.types import standard_artifacts

from avrec.components.artifacts import split_files
from avrec.content import embed_catalog, read_catalog, write_content


class ContentEmbeddings(tfx.dsl.Artifact):
    """Per-item text, image and audio embeddings with a presence mask (avrec.content.CatalogContent)."""

    TYPE_NAME = "avrec.ContentEmbeddings"


@tfx.dsl.components.component
def ContentEmbedder(catalog: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
                    content: tfx.dsl.components.OutputArtifact[ContentEmbeddings],
                    handles: tfx.dsl.components.Parameter[str],
                    cache_dir: tfx.dsl.components.Parameter[str],
                    frames_per_video: tfx.dsl.components.Parameter[int] = 8) -> None:
    """handles: JSON of avrec.models.encoders.EncoderHandles' fields (local SavedModels or TF-Hub handles)."""
    items = read_catalog(split_files(catalog))
    write_content(embed_catalog(items, handles, cache_dir, frames_per_video), content.uri)
