"""Content-embedding throughput of the converted TF encoders vs the PyTorch references (a script, not a test).

    .venv/bin/python scripts/bench_encoders.py [--reference-python /tmp/refenv/bin/python] [--texts 2048]
        [--images 256] [--batch 64]

Each measurement runs in a fresh subprocess on identical inputs (ml-latest-small's "title genres" strings; the
fixture photos at 224x224), so its peak resident memory is its own. Timings exclude model loading and one warm-up
batch and include tokenisation / normalisation. The TF side runs in this interpreter's environment (the project
venv, encoders built by `python -m avrec.models.encoders.convert.build`); the PyTorch side (sentence-transformers,
torchvision) runs in --reference-python, the throwaway reference venv described in make_encoder_fixtures.py, or is
skipped with a message when torch is not importable there.
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "encoders"


def _batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _timed(embed, items, batch) -> float:
    embed(items[:batch])  # warm-up: graph tracing, allocator, thread pools
    started = time.perf_counter()
    for chunk in _batches(items, batch):
        embed(chunk)
    return len(items) / (time.perf_counter() - started)


def _tf_embedder(kind: str):
    from avrec.models.encoders.embedders import load_image_embedder, load_text_embedder

    if kind == "text":
        layer = load_text_embedder()
        return lambda texts: layer(list(texts)).numpy()
    layer = load_image_embedder()
    return lambda images: layer(images).numpy()


def _torch_embedder(kind: str):
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    import make_encoder_fixtures as ref

    ref.torchvision_python_only()
    torch.set_grad_enabled(False)
    if kind == "text":
        model = ref.minilm_reference()
        return lambda texts: model.encode(list(texts), batch_size=len(texts), normalize_embeddings=True)
    # channels_last: on this CPU it runs MobileNetV2 about twice as fast as torch's default NCHW layout.
    model = ref.mobilenet_reference().to(memory_format=torch.channels_last)

    def embed(images):
        x = (images.astype(np.float32) / 255.0 - ref.IMAGENET_MEAN) / ref.IMAGENET_STD
        x = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC memory viewed as NCHW is channels_last already
        return model.features(x).mean(dim=(2, 3)).numpy()
    return embed


def worker(side: str, kind: str, inputs: Path, batch: int) -> None:
    """One measurement; prints a JSON line with items/s and this process's peak RSS."""
    data = np.load(inputs)
    items = data["texts"] if kind == "text" else data["images"]
    embed = _tf_embedder(kind) if side == "tf" else _torch_embedder(kind)
    rate = _timed(embed, items, batch)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"items_per_s": rate, "peak_rss_mb": peak_mb}))


def _inputs(path: Path, n_texts: int, n_images: int) -> None:
    with open(ROOT / "data" / "ml-latest-small" / "movies.csv", newline="", encoding="utf-8") as f:
        movies = [f"{row['title']} {row['genres'].replace('|', ' ')}" for row in csv.DictReader(f)]
    import avrec  # noqa: F401
    import tensorflow as tf

    photos = [tf.io.decode_png(tf.io.read_file(str(p))).numpy() for p in sorted(FIXTURES.glob("*.png"))]
    images = np.stack([photos[i % len(photos)] for i in range(n_images)])
    np.savez(path, texts=np.array(movies[:n_texts]), images=images)


def _run(python: str, side: str, kind: str, inputs: Path, batch: int) -> dict | None:
    proc = subprocess.run([python, __file__, "--worker", side, kind, str(inputs), str(batch)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {side} {kind}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-python", default=sys.executable,
                        help="interpreter with torch, sentence-transformers and torchvision (default: this one)")
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--worker", nargs=4, metavar=("SIDE", "KIND", "INPUTS", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        side, kind, inputs, batch = args.worker
        worker(side, kind, Path(inputs), int(batch))
        return

    has_torch = subprocess.run([args.reference_python, "-c", "import torch"], capture_output=True).returncode == 0
    if not has_torch:
        print(f"torch is not importable by {args.reference_python}: skipping the PyTorch side "
              "(pass --reference-python of the venv made as described in scripts/make_encoder_fixtures.py)")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        _inputs(inputs, args.texts, args.images)
        print(f"{'kind':6} {'side':8} {'items/s':>9} {'peak RSS MB':>12}")
        for kind, count in (("text", args.texts), ("image", args.images)):
            results = {"tf": _run(sys.executable, "tf", kind, inputs, args.batch)}
            if has_torch:
                results["torch"] = _run(args.reference_python, "torch", kind, inputs, args.batch)
            for side, r in results.items():
                if r:
                    print(f"{kind:6} {side:8} {r['items_per_s']:9.1f} {r['peak_rss_mb']:12.0f}")
            if results.get("torch") and results["tf"]:
                ratio = results["tf"]["items_per_s"] / results["torch"]["items_per_s"]
                print(f"{kind:6} TF/torch throughput ratio {ratio:.2f} over {count} items, batch {args.batch}")


if __name__ == "__main__":
    main()
