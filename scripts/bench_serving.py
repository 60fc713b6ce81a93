#!/usr/bin/env python
"""Latency, throughput and memory of top-10 recommendations from `avrec serve`, against an in-process numpy floor.

For each catalog size a synthetic contract model (random embeddings, brute-force scoring in the SavedModel) is
exported and served by `avrec serve` in a subprocess (default limits); a load generator on loopback sends recommend
requests through the project's REST and gRPC clients from 1, 8 and 32 client threads (--clients), each its own
client, for --seconds each: p50/p99 latency over every request of a run, and throughput. The floor is numpy's top-10
over the same embeddings in this process (matrix-vector product and argpartition), one query at a time (more
threads only contend for the GIL). Ratios are server / floor (latency: how many times slower; throughput: the
fraction of the floor's rate). The load generator shares the machine and, being Python, its GIL: with few cores
the client side is part of what is measured. With --text-dim (default 384, MiniLM's), the same catalog is served a
second time through a content path (models.content_path: a tenth of the items cold, a fifth few-interaction, the
cold component on; the text kept in ModelConfig.content_path_text_dim principal directions), as a trained model with
text is: what the path costs a request. Its passes over the rows it rescores run whatever the history (a history's
text is a gather of its rows), so requests carry none, as the plain model's do.

Then the server's RSS: idle after the sweep, after a 100,000-instance REST request (refused: over --max-batch), after
a gRPC message of a few bytes declaring 20,000 user ids (refused likewise), and after the largest request the limits
allow, over REST and gRPC: max-batch rows of max-list-length history each.

    python scripts/bench_serving.py                      # 10k and 100k items, a few minutes on 2 cores
    python scripts/bench_serving.py --sizes 10000 --seconds 2
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import requests

import avrec  # noqa: F401  (before TensorFlow)
from avrec.config import ServingConfig
from avrec.serving.connect import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_process import MODEL, avrec_server  # noqa: E402
from synthetic_model import SyntheticCatalog  # noqa: E402

TOP = 10
LIMITS = ServingConfig()  # the server runs with the default limits


def percentiles(latencies: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    return float(p50), float(p99)


def load(make_call, users: list[str], clients: int, seconds: float) -> tuple[list[float], int, float]:
    """(latencies, errors, requests per second) of `clients` loops, each with its own caller, for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def loop(worker: int) -> None:
        call = make_call()
        while time.perf_counter() < deadline:
            user = users[(len(latencies[worker]) * clients + worker) % len(users)]
            start = time.perf_counter()
            try:
                call(user)
            except Exception:  # noqa: BLE001  (counted: a refusal under load is a result, not a crash)
                errors[worker] += 1
            latencies[worker].append(time.perf_counter() - start)

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    flat = [latency for per_worker in latencies for latency in per_worker]
    return flat, sum(errors), len(flat) / (time.perf_counter() - start)


def numpy_top_k(catalog: SyntheticCatalog):
    users = {user: n for n, user in enumerate(catalog.user_ids)}

    def call(user: str):
        scores = catalog.item_embeddings @ catalog.user_embeddings[users[user]]
        top = np.argpartition(scores, -TOP)[-TOP:]
        return catalog.item_ids[top[np.argsort(-scores[top])]]

    return call


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2 ** 20


def memory_rows(server, catalog: SyntheticCatalog) -> list[tuple[str, str, float]]:
    """(request, answer, server RSS in MiB after it) for the idle server and each large request."""
    import grpc
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    pid = server.process.pid
    url = f"{server.rest_url}/v1/models/{MODEL}:predict"
    items = catalog.item_ids
    rows = [("idle, after the sweep", "", rss_mib(pid))]

    def rest(what: str, instances: list[dict]) -> None:
        body = json.dumps({"instances": instances})
        response = requests.post(url, data=body, timeout=600)
        answer = f"{response.status_code} {response.json().get('error', '')}"[:90]
        rows.append((f"{what} (REST, {len(body) / 2 ** 20:.1f} MiB)", answer, rss_mib(pid)))

    def grpc_(what: str, request) -> None:
        with grpc.insecure_channel(server.grpc_url.removeprefix("grpc://")) as channel:
            try:
                prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=600)
                answer = "OK"
            except grpc.RpcError as error:
                answer = f"{error.code().name} {error.details()}"[:90]
        rows.append((f"{what} (gRPC, {request.ByteSize():,} bytes)", answer, rss_mib(pid)))

    rest("100,000 instances", [{"user_id": f"u{n % 1000}", "history": [str(items[n % len(items)])]}
                               for n in range(100_000)])
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.inputs["user_id"].CopyFrom(tensor_pb2.TensorProto(
        dtype=tf.string.as_datatype_enum, string_val=[b"u1"], tensor_shape={"dim": [{"size": 20_000}]}))
    request.inputs["history"].CopyFrom(tf.make_tensor_proto(np.array([["i1"]], dtype=object)))
    grpc_("20,000 user ids declared", request)
    batch, length = LIMITS.max_batch, LIMITS.max_list_length
    history = [[str(items[(row * length + n) % len(items)]) for n in range(length)] for row in range(batch)]
    rest(f"largest allowed: {batch} x {length} history", [{"user_id": f"u{row % 1000}", "history": history[row]}
                                                          for row in range(batch)])
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.inputs["user_id"].CopyFrom(tf.make_tensor_proto(np.array([f"u{row % 1000}" for row in range(batch)],
                                                                     dtype=object)))
    request.inputs["history"].CopyFrom(tf.make_tensor_proto(np.array(history, dtype=object)))
    grpc_(f"largest allowed: {batch} x {length} history", request)
    return rows


def serve(catalog: SyntheticCatalog, variant: str, users: list[str], floor, levels: list[int], seconds: float,
          memory: dict) -> list[tuple]:
    """The rows of one served model at each client level over REST and gRPC; where `floor` is given, the answers are
    checked against it and the server's memory under large requests goes to `memory` (the content path changes the
    ranking: tests check it against path_scores)."""
    rows, size = [], len(catalog.item_ids)
    with tempfile.TemporaryDirectory() as base:
        started = time.perf_counter()
        catalog.save_model(Path(base) / MODEL / "1", k=TOP)
        server = avrec_server(Path(base), Path(base) / "serve.log")
        try:
            server.wait_ready(timeout=300)
            print(f"{size} items{variant}: exported and served in {time.perf_counter() - started:.1f} s", flush=True)
            for protocol, url in (("REST", server.rest_url), ("gRPC", server.grpc_url)):
                def make_call(url=url):
                    client = connect(url, MODEL)
                    return lambda user: client.recommend(user, k=TOP)

                call = make_call()
                if floor is not None:
                    assert [item for item, _ in call(users[0])] == list(floor(users[0])), "server and numpy disagree"
                load(make_call, users, 1, 0.5)
                for clients in levels:
                    before = rss_mib(server.process.pid)
                    latencies, errors, rate = load(make_call, users, clients, seconds)
                    p50, p99 = percentiles(latencies)
                    rows.append((size, f"avrec serve{variant}, {protocol}", clients, p50, p99, rate, errors,
                                 f"{before:.0f}", f"{rss_mib(server.process.pid):.0f}"))
                    print(f"  {protocol}, {clients} clients: {rate:.0f} req/s", flush=True)
            if floor is not None:
                memory[size] = memory_rows(server, catalog)
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="catalog sizes (default: %(default)s)")
    parser.add_argument("--dim", type=int, default=64, help="embedding size (default: %(default)s)")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients per run (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each run (default: %(default)s)")
    parser.add_argument("--text-dim", type=int, default=384,
                        help="item text size of a second model served with a content path, as a trained model with "
                             "MiniLM titles is (0: none; default: %(default)s)")
    args = parser.parse_args()
    levels = [int(clients) for clients in args.clients.split(",")]

    rows, memory = [], {}
    for size in (int(size) for size in args.sizes.split(",")):
        catalog = SyntheticCatalog.random(size, num_users=1000, dim=args.dim, seed=size)
        users = list(np.random.default_rng(0).choice(catalog.user_ids, 1000))
        floor = numpy_top_k(catalog)
        load(lambda: floor, users, 1, 0.5)
        latencies, _, floor_rate = load(lambda: floor, users, 1, args.seconds)
        floor_p50, floor_p99 = percentiles(latencies)
        rows.append((size, "numpy in-process (floor)", 1, floor_p50, floor_p99, floor_rate, 0, "", ""))
        served = [("", catalog)]
        if args.text_dim:
            served.append((" + content path", SyntheticCatalog.random(size, num_users=1000, dim=args.dim, seed=size,
                                                                      text_dim=args.text_dim)))
        for variant, model in served:
            rows += serve(model, variant, users, floor if not variant else None, levels, args.seconds, memory)

    print(f"\ntop-{TOP} requests, {args.dim}-d embeddings, {args.seconds:g} s per run; latency over every request "
          "of a run; ratios to the floor (numpy, one query at a time in process); RSS of the server process\n")
    print("| items | path | clients | p50 ms | p99 ms | req/s | p50 ratio | p99 ratio | req/s ratio | errors "
          "| RSS before MiB | RSS after MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    floors = {}
    for size, path, clients, p50, p99, rate, errors, before, after in rows:
        floors.setdefault(size, (p50, p99, rate))
        f50, f99, frate = floors[size]
        print(f"| {size:,} | {path} | {clients} | {p50:.2f} | {p99:.2f} | {rate:.0f} | {p50 / f50:.1f}x "
              f"| {p99 / f99:.1f}x | {rate / frate:.2f} | {errors} | {before} | {after} |")
    print("\n| items | request | answer | server RSS after, MiB |")
    print("|---:|---|---|---:|")
    for size, measured in memory.items():
        for what, answer, rss in measured:
            print(f"| {size:,} | {what} | {answer.replace('|', '/')} | {rss:.0f} |")


if __name__ == "__main__":
    main()
