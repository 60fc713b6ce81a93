"""The `avrec` command line.

Parsers live here; each command's work lives in the module that owns it and is imported only when that command runs,
so `avrec --help` stays fast. Errors a user can act on (AvrecError) print one line; anything else prints a one-line
internal-error message, with the traceback only when AVREC_DEBUG=1.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

import avrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TensorFlow)
from avrec.errors import AvrecError


def _holdout(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {value!r}") from None
    return number


def _item_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avrec", description="Audio/video recommender: train, push, serve, query.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the TFX pipeline: data -> validation -> training -> evaluation -> push")
    run.add_argument("--data", default="ml-latest-small", help="embedded dataset name or a path (default: %(default)s)")
    run.add_argument("--format", default="auto",
                     help="movielens-csv | movielens-100k | movielens-1m | generic | auto (default: %(default)s)")
    run.add_argument("--holdout-last", type=_holdout, default=10,
                     help="each user's latest N interactions (or fraction) held out for evaluation (default: 10)")
    run.add_argument("--output", default="output", help="output directory (default: %(default)s)")
    run.add_argument("--epochs", type=int, default=None, help="training epochs (default: the model config's)")
    run.add_argument("--max-bad-fraction", type=float, default=None,
                     help="stop if more than this fraction of a file's rows are bad (default: 0.01)")
    run.add_argument("--model-name", default="avrec", help="name under the serving directory (default: %(default)s)")

    recommend = commands.add_parser("recommend", help="top-K items for a user, from a pushed model or a server")
    where = recommend.add_mutually_exclusive_group()
    where.add_argument("--model", help="SavedModel version dir or model base path (default: newest under ./output)")
    where.add_argument("--server", help="TF Serving URL, e.g. http://localhost:8501 or grpc://localhost:8500")
    recommend.add_argument("--user", required=True, help="user id as in the dataset")
    recommend.add_argument("--history", type=_item_list, default=[], help="comma-separated item ids, oldest first")
    recommend.add_argument("--k", type=int, default=10, help="how many items (default: %(default)s)")
    recommend.add_argument("--output", default="output", help="where to look for pushed models (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from avrec.pipeline.run import run_command
            return run_command(args)
        if args.command == "recommend":
            from avrec.models.predict import recommend_command
            return recommend_command(args)
        raise AssertionError(f"unhandled command {args.command}")
    except AvrecError as error:
        print(f"avrec {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"avrec {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not a user error: one line unless debugging
        if os.environ.get("AVREC_DEBUG") == "1":
            traceback.print_exc()
        print(f"avrec {args.command}: internal error: {type(error).__name__}: {error} "
              "(set AVREC_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
