#!/usr/bin/env python
"""What the content path adds to a request's scoring, in process, at each text dimension it may keep.

On a synthetic catalog (scripts/synthetic_model.py: a tenth of the items cold, a fifth few-interaction, 384-d text),
one query's top-10 from the towers' scores alone (a 64-d product with every item) is timed against the same through
ContentPath.apply with the text in each number of principal directions (ModelConfig.content_path_text_dim). The
variants run in interleaved rounds, so the machine's noise falls on all alike: median and fastest round, in ms per
request, and the median's ratio to the towers' alone. bench_serving.py measures the whole served request.

    python scripts/bench_content_path.py                         # 100k items; 128, 192, 256 and 384 dimensions
    python scripts/bench_content_path.py --items 20000 --dims 64,192
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_model import SyntheticCatalog  # noqa: E402

HISTORY = tf.constant([[3, 7, 11, -1]], tf.int64)


def timed_rounds(variants: dict, query: tf.Tensor, rounds: int, calls: int) -> dict[str, list[float]]:
    """ms per call of each variant, one list entry per round; the variants take turns within a round."""
    for variant in variants.values():
        variant(query)  # traced before timing
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, variant in variants.items():
            start = time.perf_counter()
            for _ in range(calls):
                variant(query)
            times[name].append((time.perf_counter() - start) / calls * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dims", default="128,192,256,384", help="text dimensions kept (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=40, help="calls per variant and round")
    args = parser.parse_args()
    catalog = SyntheticCatalog.random(args.items, dim=64, seed=1, text_dim=384)
    items = tf.constant(catalog.item_embeddings)

    def served(path=None):
        @tf.function
        def scores(query):
            towers = tf.matmul(query, items, transpose_b=True)
            return tf.math.top_k(towers if path is None else path.apply(towers, HISTORY, HISTORY >= 0), 10)
        return scores

    variants = {"towers alone": served()}
    for dim in (int(value) for value in args.dims.split(",")):
        variants[f"content path, {dim}-d text"] = served(catalog.content_path(dim))
    times = timed_rounds(variants, tf.constant(catalog.user_embeddings[:1]), args.rounds, args.calls)
    base = np.median(times["towers alone"])
    print(f"{args.items:,} items, one query, {args.rounds} rounds of {args.calls} calls\n")
    print("| scoring | median ms | fastest round ms | median / towers alone |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {np.median(values):.2f} | {np.min(values):.2f} | {np.median(values) / base:.2f}x |")


if __name__ == "__main__":
    main()
