"""`avrec retrain` and `avrec schedule`: train on the newest span of a spans directory not yet trained on, once or on a
timer; every retrain appends to <output>/runs.json."""
from __future__ import annotations

import argparse

from avrec.cli.run import add_pipeline_options, config_from_args


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("retrain", help="train on the newest span not yet trained on, push if not worse")
    add_pipeline_options(parser)
    return parser


def add_schedule_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("schedule", help="retrain every N seconds (the one-machine schedule)")
    add_pipeline_options(parser)
    parser.add_argument("--every", type=float, required=True, metavar="SECONDS", help="seconds between retrains")
    parser.add_argument("--max-runs", type=int, default=None, metavar="N", help="stop after N retrains")
    return parser


def run(args: argparse.Namespace) -> int:
    from avrec.pipeline.retraining import retrain

    retrain(config_from_args(args))
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    from avrec.errors import AvrecError
    from avrec.pipeline.retraining import schedule

    if args.every <= 0 or (args.max_runs is not None and args.max_runs < 1):
        raise AvrecError("--every must be > 0 seconds and --max-runs >= 1")
    schedule(config_from_args(args), args.every, args.max_runs)
    return 0
