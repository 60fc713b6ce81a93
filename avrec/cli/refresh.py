"""`avrec refresh-catalog`: add new items to a pushed model from their content, push the result as a new version."""
from __future__ import annotations

import argparse

from avrec.cli.options import add_output, model_path
from avrec.config import DataConfig, default


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("refresh-catalog",
                                 help="add new items to a pushed model from their content and push a new version")
    parser.add_argument("--data", required=True, help="embedded dataset name or a path: its catalog is the new "
                                                      "item list")
    parser.add_argument("--format", default=default(DataConfig, "format"),
                        help="as for `avrec run` (default: %(default)s)")
    parser.add_argument("--max-bad-fraction", type=float, default=default(DataConfig, "max_bad_fraction"),
                        help="stop if more than this fraction of a file's rows are bad (default: %(default)s)")
    parser.add_argument("--model", help="SavedModel version dir or model base path (default: the newest pushed "
                                        "version under --output)")
    add_output(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from avrec.data.adapters import load_dataset
    from avrec.serving.catalog_refresh import refresh_catalog
    from avrec.serving.local_client import loadable_versions

    data = DataConfig(source=args.data, format=args.format, max_bad_fraction=args.max_bad_fraction)
    dataset = load_dataset(data.source_path, format=data.format, max_bad_fraction=data.max_bad_fraction)
    _, model_dir = loadable_versions(model_path(args))[0]
    target, added, updated = refresh_catalog(model_dir, dataset.catalog)
    print(f"{added} items added and {updated} re-embedded from content (model {model_dir.name}); "
          f"pushed as version {target.name}: {target}")
    return 0
