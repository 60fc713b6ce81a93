"""Options several commands share, with their defaults read from avrec.config, and where a query goes."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avrec.config import QueryConfig, RunConfig, default


def item_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def add_model_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-name", default=default(RunConfig, "model_name"),
                        help="model name under the serving directory and on a server (default: %(default)s)")


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default=default(RunConfig, "output_dir"),
                        help="where `avrec run` writes and pushes (default: %(default)s)")
    add_model_name(parser)


def add_model_or_server(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--model", help="SavedModel version dir or model base path, run in process "
                                       "(default: the newest pushed version under --output)")
    where.add_argument("--server", help="TF Serving URL, e.g. http://localhost:8501 or grpc://localhost:8500")
    add_output(parser)
    parser.add_argument("--k", type=int, default=default(QueryConfig, "k"), help="how many items (default: %(default)s)")


def model_path(args: argparse.Namespace) -> Path:
    """--model, or the model base path under --output."""
    if getattr(args, "model", None):
        return Path(args.model)
    return RunConfig(output_dir=args.output, model_name=args.model_name).model_base_path


def client(args: argparse.Namespace):
    """A client of the server at --server, or of the model at --model (in process)."""
    from avrec.serving.connect import connect, open_model

    query = QueryConfig(k=args.k)
    if args.server:
        return connect(args.server, args.model_name, query.timeout_seconds)
    return open_model(model_path(args), args.model_name, warn=lambda line: print(line, file=sys.stderr))


def where(args: argparse.Namespace, client_) -> str:
    return f"model '{args.model_name}' at {args.server}" if args.server else str(client_.path)


def print_items(heading: str, items: list[tuple[str, float]], titles: list[str] | None) -> None:
    """Rank, item id, score and, when the model carries them, titles: one item per line."""
    print(heading)
    width = max((len(item) for item, _ in items), default=0)
    for rank, ((item, score), title) in enumerate(zip(items, titles or [""] * len(items)), start=1):
        print(f"{rank:>4}  {item:<{width}}  {score:>9.4f}  {title}".rstrip())
