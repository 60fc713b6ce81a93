"""Compiles the pipeline for Kubeflow Pipelines 2 and Vertex AI Pipelines: a PipelineJob spec (JSON) whose every task
runs the avrec image (see Dockerfile), which holds this code, the pinned stack and the built encoders.

Nothing runs here: submit the spec with the Kubeflow or Vertex client, once or as a recurring run (README). Paths in
the configuration are the pods' paths: the data and the serving directory on a volume mounted into every task (for
example a GCS bucket through Cloud Storage FUSE at /gcs/BUCKET), the pipeline root on GCS or that volume.
"""
from __future__ import annotations

from pathlib import Path

from tfx import v1 as tfx

from avrec.config import RunConfig
from avrec.pipeline.local_runner import beam_args
from avrec.pipeline.pipeline import create_pipeline

SPEC_FILE = "pipeline.json"
IMAGE_PROJECT_ROOT = Path("/app")  # where the Dockerfile puts the project in the image


def compile_pipeline(config: RunConfig, output_dir: str | Path, pipeline_root: str, spans: bool) -> Path:
    """Writes output_dir/pipeline.json; returns its path. `config` holds the tasks' paths (data, output)."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=config.pipeline.image),
        output_dir=str(output), output_filename=SPEC_FILE)
    runner.run(create_pipeline(config, pipeline_root, beam_pipeline_args=beam_args(config.pipeline), spans=spans,
                               schema_dir=IMAGE_PROJECT_ROOT / "schemas"))
    return output / SPEC_FILE
