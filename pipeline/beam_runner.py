"""Runs the pipeline with TFX's BeamDagRunner: the DAG itself becomes a Beam pipeline, each node a step, on this
machine's DirectRunner (components' own Beam steps get the pipeline's beam_pipeline_args, as with the local runner).
ML Metadata lives in SQLite under the output directory."""
from __future__ import annotations

import sys
from pathlib import Path

from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from avrec.pipeline.monitor import MonitoredRun, run_monitored


def run_on_beam(pipeline, metadata_path: Path, stream=sys.stdout) -> MonitoredRun:
    return run_monitored(BeamDagRunner(), pipeline, metadata_path, stream)
