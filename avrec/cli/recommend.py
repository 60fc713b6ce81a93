"""`avrec recommend`: top-K items for a user and their history, from a pushed model or a server."""
from __future__ import annotations

import argparse

from avrec.cli.options import add_model_or_server, client, item_list, print_items, where


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("recommend", help="top-K items for a user, from a pushed model or a server")
    add_model_or_server(parser)
    parser.add_argument("--user", required=True, help="user id as in the dataset")
    parser.add_argument("--history", type=item_list, default=[], help="comma-separated item ids, oldest first")
    return parser


def run(args: argparse.Namespace) -> int:
    with client(args) as model:
        items = model.recommend(args.user, args.history, args.k)
        titles = model.titles([item for item, _ in items])
        print_items(f"top {len(items)} for user {args.user} from {where(args, model)}:", items, titles)
    return 0
