"""`avrec similar`: the items most similar to an item, from a pushed model or a server."""
from __future__ import annotations

import argparse

from avrec.cli.options import add_model_or_server, client, print_items, where


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("similar", help="items most similar to an item, from a pushed model or a server")
    add_model_or_server(parser)
    parser.add_argument("--item", required=True, help="item id as in the dataset")
    return parser


def run(args: argparse.Namespace) -> int:
    with client(args) as model:
        items = model.similar(args.item, args.k)
        titles = model.titles([item for item, _ in items])
        print_items(f"top {len(items)} similar to item {args.item} from {where(args, model)}:", items, titles)
    return 0
