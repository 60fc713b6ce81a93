"""`avrec serve`: serve the pushed versions of a model over TF Serving's REST and gRPC APIs."""
from __future__ import annotations

import argparse
import logging

from avrec.cli.options import add_model_name
from avrec.config import ServingConfig, default


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("serve", help="serve pushed versions over TF Serving's REST and gRPC APIs")
    parser.add_argument("--model-base-path", required=True, help="directory holding MODEL_NAME/<version>/ dirs")
    add_model_name(parser)
    parser.add_argument("--host", default=default(ServingConfig, "host"),
                        help="address to listen on; 0.0.0.0 for every interface, as TF Serving's image does "
                             "(default: %(default)s)")
    parser.add_argument("--rest-port", type=int, default=default(ServingConfig, "rest_port"),
                        help="REST port (default: %(default)s)")
    parser.add_argument("--grpc-port", type=int, default=default(ServingConfig, "grpc_port"),
                        help="gRPC port (default: %(default)s)")
    parser.add_argument("--poll-seconds", type=float, default=default(ServingConfig, "poll_seconds"),
                        help="how often to look for new versions (default: %(default)s)")
    return parser


def run(args: argparse.Namespace) -> int:
    from avrec.serving.server import ModelServer  # imports TensorFlow

    config = ServingConfig(host=args.host, rest_port=args.rest_port, grpc_port=args.grpc_port,
                           poll_seconds=args.poll_seconds)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)  # log failed requests only
    server = ModelServer(args.model_base_path, args.model_name, config).start()
    current = server.repository.current
    print(f"serving model '{args.model_name}' "
          f"{f'version {current.version}' if current else '(no version loaded yet)'} from {server.repository.path}: "
          f"REST http://{config.host}:{server.rest_port}/v1/models/{args.model_name}, "
          f"gRPC {config.host}:{server.grpc_port}; polling every {config.poll_seconds} s (Ctrl-C stops)", flush=True)
    server.serve_forever()
    return 0
