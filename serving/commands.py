"""The `avrec serve`, `avrec similar` and `avrec recommend --server` commands."""
from __future__ import annotations

import argparse
import logging

from avrec.serving.client import connect


def serve_command(args: argparse.Namespace) -> int:
    from avrec.serving.server import ModelServer  # imports TensorFlow

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)  # log failed requests only
    server = ModelServer(args.model_base_path, args.model_name, host=args.host, rest_port=args.rest_port,
                         grpc_port=args.grpc_port, poll_seconds=args.poll_seconds).start()
    current = server.repository.current
    print(f"serving model '{args.model_name}' "
          f"{f'version {current.version}' if current else '(no version loaded yet)'} from {server.repository.path}: "
          f"REST http://{args.host}:{server.rest_port}/v1/models/{args.model_name}, "
          f"gRPC {args.host}:{server.grpc_port}; polling every {args.poll_seconds} s (Ctrl-C stops)", flush=True)
    server.serve_forever()
    return 0


def print_items(heading: str, items: list[tuple[str, float]], titles: list[str] | None) -> None:
    """Rank, item id, score and, when the model carries them, titles: one item per line."""
    print(heading)
    width = max((len(item) for item, _ in items), default=0)
    for rank, ((item, score), title) in enumerate(zip(items, titles or [""] * len(items)), start=1):
        print(f"{rank:>4}  {item:<{width}}  {score:>9.4f}  {title}".rstrip())


def recommend_command(args: argparse.Namespace) -> int:
    with connect(args.server, args.model_name) as client:
        items = client.recommend(args.user, args.history, args.k)
        titles = client.titles([item for item, _ in items])
    print_items(f"top {len(items)} for user {args.user} from model '{args.model_name}' at {args.server}:",
                 items, titles)
    return 0


def similar_command(args: argparse.Namespace) -> int:
    with connect(args.server, args.model_name) as client:
        items = client.similar(args.item, args.k)
        titles = client.titles([item for item, _ in items])
    print_items(f"top {len(items)} similar to item {args.item} from model '{args.model_name}' at {args.server}:",
                 items, titles)
    return 0
