"""`avrec run`: the whole TFX pipeline on a dataset, from its files to a pushed model and a metrics report."""
from __future__ import annotations

import argparse

from avrec.cli.options import add_output
from avrec.config import DataConfig, ModelConfig, RunConfig, default


def _holdout(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {value!r}") from None


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("run", help="run the TFX pipeline: data -> validation -> training -> evaluation "
                                             "-> push")
    parser.add_argument("--data", default=default(DataConfig, "source"),
                        help="embedded dataset name or a path (default: %(default)s)")
    parser.add_argument("--format", default=default(DataConfig, "format"),
                        help="movielens-csv | movielens-100k | movielens-1m | generic | auto (default: %(default)s)")
    parser.add_argument("--holdout-last", type=_holdout, default=default(DataConfig, "holdout_last"),
                        help="each user's latest N interactions (or a fraction) held out for evaluation "
                             "(default: %(default)s)")
    add_output(parser)
    parser.add_argument("--epochs", type=int, default=default(ModelConfig, "epochs"),
                        help="training epochs (default: %(default)s)")
    parser.add_argument("--max-bad-fraction", type=float, default=default(DataConfig, "max_bad_fraction"),
                        help="stop if more than this fraction of a file's rows are bad (default: %(default)s)")
    parser.add_argument("--cold-items", type=float, default=default(DataConfig, "cold_item_fraction"),
                        metavar="FRACTION",
                        help="cold-start evaluation: hold this share of items out of training entirely, e.g. 0.1")
    parser.add_argument("--no-content", action="store_true",
                        help="train the id + categorical model without pretrained content embeddings")
    parser.add_argument("--fusion", choices=("gated", "alpha"), default=default(ModelConfig, "fusion"),
                        help="how the item tower fuses content: learned gates or alpha * text + (1 - alpha) * "
                             "vision (default: %(default)s)")
    parser.add_argument("--finetune-text", action="store_true",
                        help="fine-tune the text encoder end to end (slow on CPU: meant for a GPU)")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    data = DataConfig(source=args.data, format=args.format, holdout_last=args.holdout_last,
                      max_bad_fraction=args.max_bad_fraction, cold_item_fraction=args.cold_items)
    model = ModelConfig(epochs=args.epochs, content=not args.no_content, fusion=args.fusion,
                        finetune_text=args.finetune_text)
    return RunConfig(output_dir=args.output, model_name=args.model_name, data=data, model=model)


def run(args: argparse.Namespace) -> int:
    from avrec.pipeline.job import execute

    execute(config_from_args(args))
    return 0
