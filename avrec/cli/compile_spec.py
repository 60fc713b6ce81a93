"""`avrec compile --runner kubeflow`: the pipeline as a PipelineJob spec for Kubeflow Pipelines 2 / Vertex AI."""
from __future__ import annotations

import argparse

from avrec.cli.run import add_pipeline_options, config_from_args
from avrec.config import PipelineConfig, default


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("compile", help="write the pipeline as a Kubeflow V2 / Vertex AI PipelineJob spec")
    parser.add_argument("--runner", choices=("kubeflow",), required=True, help="the orchestrator to compile for")
    add_pipeline_options(parser)  # --output: where pipeline.json is written
    parser.add_argument("--image", default=default(PipelineConfig, "image"),
                        help="the container image every task runs (default: %(default)s)")
    parser.add_argument("--pipeline-root", required=True,
                        help="where the tasks write their artifacts, e.g. gs://BUCKET/avrec/pipeline")
    parser.add_argument("--task-output", required=True,
                        help="the output directory as the tasks see it: the serving directory and the embedding "
                             "cache go there, e.g. /gcs/BUCKET/avrec (--data is a task path too)")
    parser.add_argument("--spans", action="store_true", help="--data is a directory of span folders")
    return parser


def run(args: argparse.Namespace) -> int:
    from avrec.pipeline.kubeflow_v2_runner import compile_pipeline

    config = config_from_args(args, runner="kubeflow").replace(output_dir=args.task_output)
    path = compile_pipeline(config, args.output, args.pipeline_root, args.spans)
    print(f"wrote {path}")
    return 0
