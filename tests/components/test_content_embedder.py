"""The ContentEmbedder component in a pipeline, on the pipeline's Beam settings."""
import numpy as np
import pytest
import tensorflow as tf

from avrec.data.embeddings import read_content


@pytest.mark.slow
def test_component_in_a_pipeline_writes_an_artifact_read_content_reads(runs, media, tmp_path):
    from tfx import v1 as tfx

    from avrec import features as F
    from avrec.components.content_embedder import ContentEmbedder
    from avrec.data.examples import serialize_rows
    from avrec.fingerprint import code_fingerprint
    from avrec.pipeline.monitor import metadata_connection, run_monitored
    from tests.support.media import catalog_frame, catalog_rows

    frame = catalog_frame(catalog_rows(media))
    prepared = tmp_path / "prepared"
    (prepared / "catalog" / "items").mkdir(parents=True)
    with tf.io.TFRecordWriter(str(prepared / "catalog" / "items" / "data.tfrecord")) as writer:
        for record in serialize_rows(frame, F.CATALOG_FEATURES):
            writer.write(record)

    catalog = tfx.components.ImportExampleGen(
        input_base=str(prepared),
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="items", pattern="catalog/items/*")]),
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(
            splits=[tfx.proto.SplitConfig.Split(name="items", hash_buckets=1)])))
    embedder = ContentEmbedder(catalog=catalog.outputs["examples"], encoders=runs["encoders"].to_json(),
                               cache_dir=runs["cache"], code=code_fingerprint(ContentEmbedder.__module__))
    root = tmp_path / "pipeline"
    with open(tmp_path / "progress.txt", "w") as stream:  # monitored: no temporary files left behind
        run_monitored(tfx.orchestration.LocalDagRunner(), tfx.dsl.Pipeline(
            pipeline_name="content", pipeline_root=str(root), components=[catalog, embedder],
            metadata_connection_config=metadata_connection(tmp_path / "metadata.sqlite"),
            beam_pipeline_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"]),
            tmp_path / "metadata.sqlite", stream)

    [uri] = [p.parent for p in root.glob("ContentEmbedder/content/*/embeddings.npz")]
    content = read_content(str(uri))
    expected = runs["first"]
    # Two Beam workers may hand the catalog over in another order: compare item by item.
    assert sorted(content.item_id.tolist()) == sorted(expected.item_id.tolist())
    rows = content.rows_of(expected.item_id)
    np.testing.assert_array_equal(content.present[rows], expected.present)
    for modality in ("text", "image", "audio"):
        np.testing.assert_allclose(getattr(content, modality)[rows], getattr(expected, modality), atol=1e-6)
    # The cache outlives the run that filled it: the component encoded nothing.
    assert content.report.encoded == {"text": 0, "image": 0, "audio": 0}
    assert {p.item_id for p in content.report.problems} == {"m5", "m6"}
