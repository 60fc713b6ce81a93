"""`avrec serve`: serve the pushed versions of a model over TF Serving's REST and gRPC APIs."""
from __future__ import annotations

import argparse
import logging
import os

from avrec.cli.options import add_model_name
from avrec.config import ServingConfig, default

# Bounds on one request and on the requests running at once (ServingConfig fields, each a --flag).
_LIMITS = {
    "max_body_bytes": "REST body and gRPC message size; beyond, 413 (gRPC: RESOURCE_EXHAUSTED)",
    "max_batch": "rows per request (instances, or dimension 0 of an input)",
    "max_list_length": "items per row of a list input such as history or exclude",
    "max_tensor_elements": "values in one input tensor",
    "max_in_flight": "requests being received or answered at once; beyond, 503 (gRPC: UNAVAILABLE)",
    "request_timeout_seconds": "time to answer a request; beyond, 504 (gRPC: DEADLINE_EXCEEDED)",
}


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("serve", help="serve pushed versions over TF Serving's REST and gRPC APIs")
    parser.add_argument("--model-base-path", required=True, help="directory holding MODEL_NAME/<version>/ dirs")
    add_model_name(parser)
    parser.add_argument("--host", default=default(ServingConfig, "host"),
                        help="address to listen on; 0.0.0.0 for every interface, which TF Serving always binds "
                             "(default: %(default)s, this machine only)")
    parser.add_argument("--rest-port", type=int, default=default(ServingConfig, "rest_port"),
                        help="REST port (default: %(default)s)")
    parser.add_argument("--grpc-port", type=int, default=default(ServingConfig, "grpc_port"),
                        help="gRPC port (default: %(default)s)")
    parser.add_argument("--poll-seconds", type=float, default=default(ServingConfig, "poll_seconds"),
                        help="how often to look for new versions (default: %(default)s)")
    limits = parser.add_argument_group("limits", "a request over one is refused with a one-line error naming it")
    for field, help_ in _LIMITS.items():
        value = default(ServingConfig, field)
        limits.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value,
                            help=f"{help_} (default: %(default)s)")
    return parser


def run(args: argparse.Namespace) -> int:
    # TensorFlow's oneDNN kernels allocate from a pool they never give back: after one large request the server
    # would keep its peak (1.3 GB instead of 0.7 GB for the benchmark's largest). TF Serving's standard image is
    # built without them; TF_ENABLE_ONEDNN_OPTS=1 turns them back on.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from avrec.serving.server import ModelServer  # imports TensorFlow

    config = ServingConfig(host=args.host, rest_port=args.rest_port, grpc_port=args.grpc_port,
                           poll_seconds=args.poll_seconds, **{field: getattr(args, field) for field in _LIMITS})
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
