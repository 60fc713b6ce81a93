#!/usr/bin/env python
"""Latency and throughput of top-10 recommendations from `avrec serve`, against an in-process numpy floor.

For each catalog size a synthetic contract model (random embeddings, brute-force scoring in the SavedModel) is
exported and served by `avrec serve` in a subprocess; a load generator on loopback sends recommend requests through
the project's REST and gRPC clients: one at a time for p50/p99 latency, then from --concurrency threads for
throughput. The floor is numpy's top-10 over the same embeddings in this process (matrix-vector product and
argpartition), one query at a time (more threads only contend for the GIL). Ratios are server / floor (latency: how many times slower; throughput:
the fraction of the floor's rate).

    python scripts/bench_serving.py                      # 10k, 100k and 1M items, a few minutes on 2 cores
    python scripts/bench_serving.py --sizes 10000 --seconds 2
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import avrec  # noqa: F401  (before TensorFlow)
from avrec.serving.connect import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_process import MODEL, avrec_server  # noqa: E402
from synthetic_model import SyntheticCatalog  # noqa: E402

TOP = 10


def percentiles(latencies: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    return float(p50), float(p99)


def sequential(call, users: list[str], requests: int) -> list[float]:
    latencies = []
    for n in range(requests):
        start = time.perf_counter()
        call(users[n % len(users)])
        latencies.append(time.perf_counter() - start)
    return latencies


def throughput(make_call, users: list[str], threads: int, seconds: float) -> float:
    """Requests per second from `threads` loops, each with its own caller, over `seconds`."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(worker: int) -> None:
        call = make_call()
        while time.perf_counter() < deadline:
            call(users[(counts[worker] * threads + worker) % len(users)])
            counts[worker] += 1

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - start)


def numpy_top_k(catalog: SyntheticCatalog):
    users = {user: n for n, user in enumerate(catalog.user_ids)}

    def call(user: str):
        scores = catalog.item_embeddings @ catalog.user_embeddings[users[user]]
        top = np.argpartition(scores, -TOP)[-TOP:]
        return catalog.item_ids[top[np.argsort(-scores[top])]]

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="catalog sizes (default: %(default)s)")
    parser.add_argument("--dim", type=int, default=64, help="embedding size (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests for latency (default: 200)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run (default: 5)")
    parser.add_argument("--concurrency", type=int, default=4, help="threads in throughput runs (default: 4)")
    args = parser.parse_args()

    rows = []
    for size in (int(size) for size in args.sizes.split(",")):
        catalog = SyntheticCatalog.random(size, num_users=1000, dim=args.dim, seed=size)
        users = list(np.random.default_rng(0).choice(catalog.user_ids, 1000))
        floor = numpy_top_k(catalog)
        sequential(floor, users, 10)
        floor_p50, floor_p99 = percentiles(sequential(floor, users, args.requests))
        floor_rate = throughput(lambda: floor, users, 1, args.seconds)  # threads only contend for the GIL
        rows.append((size, "numpy in-process (floor)", floor_p50, floor_p99, floor_rate, 1.0, 1.0, 1.0))
        with tempfile.TemporaryDirectory() as base:
            started = time.perf_counter()
            catalog.save_model(Path(base) / MODEL / "1", k=TOP)
            server = avrec_server(Path(base), Path(base) / "serve.log")
            try:
                server.wait_ready(timeout=300)
                print(f"{size} items: exported and served in {time.perf_counter() - started:.1f} s", flush=True)
                for protocol, url in (("REST", server.rest_url), ("gRPC", server.grpc_url)):
                    def make_call(url=url):
                        client = connect(url, MODEL)
                        return lambda user: client.recommend(user, k=TOP)

                    call = make_call()
                    expected = list(floor(users[0]))
                    assert [item for item, _ in call(users[0])] == expected, "server and numpy disagree"
                    sequential(call, users, 10)
                    p50, p99 = percentiles(sequential(call, users, args.requests))
                    rate = throughput(make_call, users, args.concurrency, args.seconds)
                    rows.append((size, f"avrec serve, brute force, {protocol}", p50, p99, rate,
                                 p50 / floor_p50, p99 / floor_p99, rate / floor_rate))
            finally:
                server.stop()

    print(f"\ntop-{TOP} requests, {args.dim}-d embeddings; latency over {args.requests} sequential requests, "
          f"throughput from {args.concurrency} concurrent clients over {args.seconds:g} s; ratios are to the floor\n")
    print("| items | path | p50 ms | p99 ms | req/s | p50 ratio | p99 ratio | req/s ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for size, path, p50, p99, rate, r50, r99, rrate in rows:
        print(f"| {size:,} | {path} | {p50:.2f} | {p99:.2f} | {rate:.0f} | {r50:.1f}x | {r99:.1f}x | {rrate:.2f} |")


if __name__ == "__main__":
    main()
