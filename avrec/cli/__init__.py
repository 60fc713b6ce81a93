"""The `avrec` command line: a module per command, each with `add_parser` (its options, whose defaults come from
avrec.config) and `run` (its work, importing what it needs only then, so `avrec --help` stays fast).

Errors a user can act on (AvrecError) print one line; anything else prints a one-line internal-error message, with
the traceback only when AVREC_DEBUG=1.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

import avrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TensorFlow)
from avrec.cli import compile_spec, recommend, refresh, retrain, run, search, serve, similar
from avrec.errors import AvrecError

# (adds the command's parser, does its work)
COMMANDS = ((run.add_parser, run.run), (retrain.add_parser, retrain.run),
            (retrain.add_schedule_parser, retrain.run_schedule), (compile_spec.add_parser, compile_spec.run),
            (recommend.add_parser, recommend.run), (similar.add_parser, similar.run), (search.add_parser, search.run),
            (refresh.add_parser, refresh.run), (serve.add_parser, serve.run))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avrec", description="Audio/video recommender: train, push, serve, query.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser, handler in COMMANDS:
        add_parser(commands).set_defaults(handler=handler)
    return parser


def _check_text(args: argparse.Namespace) -> None:
    """Arguments are str decoded with surrogateescape: bytes that are not UTF-8 would fail deep inside."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    option = name.replace("_", "-")
                    raise AvrecError(f"argument {option} is not valid UTF-8: {text.encode('utf-8', 'replace')!r}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_text(args)
        return args.handler(args)
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
