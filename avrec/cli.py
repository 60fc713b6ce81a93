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
    run.add_argument("--cold-items", type=float, default=0.0, metavar="FRACTION",
                     help="cold-start evaluation: hold this share of items out of training entirely, e.g. 0.1")
    run.add_argument("--no-content", action="store_true",
                     help="train the id + categorical model without pretrained content embeddings")
    run.add_argument("--fusion", choices=("gated", "alpha"), default="gated",
                     help="how the item tower fuses content: learned gates or alpha * text + (1 - alpha) * vision")
    run.add_argument("--finetune-text", action="store_true",
                     help="fine-tune the text encoder end to end (slow on CPU: meant for a GPU)")

    recommend = commands.add_parser("recommend", help="top-K items for a user, from a pushed model or a server")
    where = recommend.add_mutually_exclusive_group()
    where.add_argument("--model", help="SavedModel version dir or model base path (default: newest under ./output)")
    where.add_argument("--server", help="TF Serving URL, e.g. http://localhost:8501 or grpc://localhost:8500")
    recommend.add_argument("--user", required=True, help="user id as in the dataset")
    recommend.add_argument("--history", type=_item_list, default=[], help="comma-separated item ids, oldest first")
    recommend.add_argument("--k", type=int, default=10, help="how many items (default: %(default)s)")
    recommend.add_argument("--output", default="output", help="where to look for pushed models (default: %(default)s)")
    recommend.add_argument("--model-name", default="avrec",
                           help="model name on the server, with --server (default: %(default)s)")

    search = commands.add_parser("search", help="items whose content matches a free-text query")
    search.add_argument("query", help='e.g. "space adventure with robots"')
    search.add_argument("--model", help="SavedModel version dir or model base path (default: newest under --output)")
    search.add_argument("--k", type=int, default=10, help="how many items (default: %(default)s)")
    search.add_argument("--output", default="output", help="where to look for pushed models (default: %(default)s)")
    search.add_argument("--model-name", default="avrec", help="model name (default: %(default)s)")

    refresh = commands.add_parser(
        "refresh-catalog", help="add new items to a pushed model from their content and push a new version")
    refresh.add_argument("--data", required=True, help="dataset whose catalog is the new item list")
    refresh.add_argument("--format", default="auto", help="as for `avrec run` (default: %(default)s)")
    refresh.add_argument("--max-bad-fraction", type=float, default=0.01,
                         help="stop if more than this fraction of a file's rows are bad (default: %(default)s)")
    refresh.add_argument("--model", help="SavedModel version dir or model base path (default: newest under --output)")
    refresh.add_argument("--output", default="output", help="where to look for pushed models (default: %(default)s)")
    refresh.add_argument("--model-name", default="avrec", help="model name (default: %(default)s)")

    serve = commands.add_parser("serve", help="serve pushed versions over TF Serving's REST and gRPC APIs")
    serve.add_argument("--model-base-path", required=True, help="directory holding MODEL_NAME/<version>/ dirs")
    serve.add_argument("--model-name", default="avrec", help="model name (default: %(default)s)")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: %(default)s)")
    serve.add_argument("--rest-port", type=int, default=8501, help="REST port (default: %(default)s)")
    serve.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (default: %(default)s)")
    serve.add_argument("--poll-seconds", type=float, default=1.0,
                       help="how often to look for new versions (default: %(default)s)")

    similar = commands.add_parser("similar", help="items most similar to an item, from a server")
    similar.add_argument("--server", required=True,
                         help="TF Serving URL, e.g. http://localhost:8501 or grpc://localhost:8500")
    similar.add_argument("--item", required=True, help="item id as in the dataset")
    similar.add_argument("--k", type=int, default=10, help="how many items (default: %(default)s)")
    similar.add_argument("--model-name", default="avrec", help="model name on the server (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from avrec.pipeline.run import run_command
            return run_command(args)
        if args.command == "recommend" and args.server:
            from avrec.serving.commands import recommend_command as server_recommend_command
            return server_recommend_command(args)
        if args.command == "recommend":
            from avrec.models.predict import recommend_command
            return recommend_command(args)
        if args.command == "search":
            from avrec.models.predict import search_command
            return search_command(args)
        if args.command == "refresh-catalog":
            from avrec.models.refresh import refresh_command
            return refresh_command(args)
        if args.command == "serve":
            from avrec.serving.commands import serve_command
            return serve_command(args)
        if args.command == "similar":
            from avrec.serving.commands import similar_command
            return similar_command(args)
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
