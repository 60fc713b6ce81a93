"""Runs the pipeline on this machine with TFX's LocalDagRunner: ML Metadata in SQLite under the output directory,
every Beam step on Beam's DirectRunner in multi-processing mode (one worker per core unless configured)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from tfx import v1 as tfx

from avrec.config import PipelineConfig
from avrec.pipeline.monitor import MonitoredRun, run_monitored


def beam_args(config: PipelineConfig) -> list[str]:
    """The configured Beam arguments, or DirectRunner's multi-processing mode on every core."""
    if config.beam_args:
        return list(config.beam_args)
    workers = config.direct_num_workers or os.cpu_count() or 1
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]


def run_locally(pipeline, metadata_path: Path, stream=sys.stdout) -> MonitoredRun:
    return run_monitored(tfx.orchestration.LocalDagRunner(), pipeline, metadata_path, stream)
