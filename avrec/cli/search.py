"""`avrec search`: items whose content matches a free-text query.

The query is encoded in this process by the text encoder saved beside the model (for --server, the one beside the
newest model pushed under --output, or --encoder), then matched by the model's search_by_embedding signature.
"""
from __future__ import annotations

import argparse

from avrec.cli.options import add_model_or_server, client, model_path, print_items, where


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("search", help="items whose content matches a free-text query")
    parser.add_argument("query", help='e.g. "space adventure with robots"')
    add_model_or_server(parser)
    parser.add_argument("--encoder", help="with --server: the text encoder folder (a model's "
                                          "assets.extra/text_encoder; default: the newest model's under --output)")
    return parser


def _encoder_dir(args: argparse.Namespace, model) -> str:
    from avrec.serving.local_client import loadable_versions
    from avrec.serving.text_encoder import text_encoder_dir

    if args.encoder:
        return args.encoder
    if not args.server:
        return str(text_encoder_dir(model.path))
    return str(text_encoder_dir(loadable_versions(model_path(args))[0][1]))


def run(args: argparse.Namespace) -> int:
    from avrec.serving.text_encoder import load_text_encoder

    with client(args) as model:
        model.check_search()
        query = load_text_encoder(_encoder_dir(args, model))([args.query])[0]
        items = model.search(query.tolist(), args.k)
        titles = model.titles([item for item, _ in items])
        print_items(f"top {len(items)} for {args.query!r} from {where(args, model)}:", items, titles)
    return 0
