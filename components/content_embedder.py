"""Embeds the whole item catalog with the pretrained text, image and audio encoders (components/content/).

The job runs on the pipeline's Beam settings (`use_beam`), so Dataflow or Flink scale it out with the rest. The cache
in cache_dir outlives pipeline runs and is keyed by content, so a changed catalog re-encodes only the items whose
text or media changed. The output holds `embeddings.npz` and `report.json` (avrec.data.embeddings).
"""
import os

import apache_beam as beam
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from avrec import features as F
from avrec.components.artifacts import ContentEmbeddings, split_files
from avrec.components.content.embed import embed_catalog
from avrec.config import EncoderConfig
from avrec.data.embeddings import write_content
from avrec.data.examples import read_frame


@tfx.dsl.components.component(use_beam=True)
def ContentEmbedder(catalog: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
                    content: tfx.dsl.components.OutputArtifact[ContentEmbeddings],
                    encoders: tfx.dsl.components.Parameter[str],
                    cache_dir: tfx.dsl.components.Parameter[str],
                    code: tfx.dsl.components.Parameter[str],
                    beam_pipeline: tfx.dsl.components.BeamComponentParameter[beam.Pipeline] = None) -> None:
    """encoders: EncoderConfig as JSON; code: the fingerprint of this code (part of the cache key)."""
    del code
    items = read_frame(split_files(catalog), F.CATALOG_FEATURES)
    embedded = embed_catalog(items, EncoderConfig.from_json(encoders), cache_dir, beam_pipeline,
                             work_dir=os.path.join(content.uri, ".work"))
    write_content(embedded, content.uri)
