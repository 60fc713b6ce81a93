#!/usr/bin/env python
"""Fusion must never hurt: the default model on a MovieLens directory, with and without a cover image per item that
is pure noise (random pixels through the real vision encoder). Prints warm and cold Recall@10/50 and NDCG@10 of
both runs, which modalities the Trainer switched off, and the per-modality ablation of the run with covers.

    python scripts/bench_noise_modality.py [--data data/ml-latest-small] [--work /tmp/noise] [--cold-items 0.1]

Both datasets are written in the generic layout (items.csv, interactions.csv) from the same ratings, titles, genres
and tags, the licence beside them; only `image_paths` differs.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from avrec.config import EMBEDDED_DATASETS

COVER_SIZE = 96


def generic_copy(source: Path, destination: Path, covers: bool, seed: int = 0) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    movies = pd.read_csv(source / "movies.csv")
    tags = pd.read_csv(source / "tags.csv") if (source / "tags.csv").exists() else pd.DataFrame(
        columns=["movieId", "tag"])
    tag_lists = tags.dropna(subset=["tag"]).groupby("movieId")["tag"].agg(lambda t: "|".join(dict.fromkeys(t)))
    items = pd.DataFrame({"item_id": movies["movieId"], "title": movies["title"], "genres": movies["genres"],
                          "tags": movies["movieId"].map(tag_lists).fillna("")})
    if covers:
        rng = np.random.default_rng(seed)
        (destination / "covers").mkdir(exist_ok=True)
        for item in items["item_id"]:
            pixels = rng.integers(0, 256, (COVER_SIZE, COVER_SIZE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(destination / "covers" / f"{item}.png")
        items["image_paths"] = [f"covers/{item}.png" for item in items["item_id"]]
    items.to_csv(destination / "items.csv", index=False)
    ratings = pd.read_csv(source / "ratings.csv")
    ratings.rename(columns={"userId": "user_id", "movieId": "item_id"}).to_csv(destination / "interactions.csv",
                                                                               index=False)
    if (source / "README.txt").exists():
        shutil.copy(source / "README.txt", destination / "README.txt")
    return destination


def run(data: Path, output: Path, cold_items: float, holdout_last: str) -> dict:
    command = [sys.executable, "-m", "avrec.cli", "run", "--data", str(data), "--output", str(output),
               "--cold-items", str(cold_items), "--holdout-last", holdout_last, "--baselines", "popularity"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads((output / "metrics.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=EMBEDDED_DATASETS["ml-latest-small"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/avrec-noise"))
    parser.add_argument("--cold-items", type=float, default=0.1)
    parser.add_argument("--holdout-last", default="10")
    args = parser.parse_args()
    results = {}
    for name, covers in (("without covers", False), ("with noise covers", True)):
        data = generic_copy(args.data, args.work / ("noise" if covers else "plain"), covers)
        results[name] = run(data, args.work / f"out-{'noise' if covers else 'plain'}", args.cold_items,
                            args.holdout_last)
    print(f"{'':22s}{'part':>6s}{'recall@10':>11s}{'recall@50':>11s}{'ndcg@10':>10s}")
    for name, document in results.items():
        for part, values in (("warm", document["model"]), ("cold", document.get("cold", {}).get("model"))):
            if values:
                print(f"{name:22s}{part:>6s}" + "".join(f"{values[m]:>11.4f}" for m in ("recall@10", "recall@50"))
                      + f"{values['ndcg@10']:>10.4f}")
    noisy = results["with noise covers"]
    print("switched off by validation:", noisy["training"].get("modalities", {}).get("off"))
    print("ablation (with noise covers):", json.dumps(noisy.get("ablation"), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
