"""`avrec recommend --model`: load a pushed SavedModel in process and print its top-K with titles."""
from __future__ import annotations

import argparse
from pathlib import Path

from avrec.config import RunConfig
from avrec.errors import AvrecError, ModelNotFoundError
from avrec.serving.commands import print_items


def _is_saved_model(path: Path) -> bool:
    return (path / "saved_model.pb").exists()


def newest_version(base_path: Path) -> Path:
    """TF Serving's rule: the version directory with the largest integer name."""
    versions = [child for child in base_path.iterdir() if child.name.isdigit() and _is_saved_model(child)] \
        if base_path.is_dir() else []
    if not versions:
        raise ModelNotFoundError(f"no pushed model version under {base_path} (run `avrec run` first, or pass --model)")
    return max(versions, key=lambda child: int(child.name))


def resolve_model(model: str | None, output: str, model_name: str) -> Path:
    """--model may be a version directory or a model base path; without it, the newest push under --output."""
    if model is None:
        return newest_version(RunConfig(output_dir=output, model_name=model_name).model_base_path)
    path = Path(model)
    return path if _is_saved_model(path) else newest_version(path)


def recommend_command(args: argparse.Namespace) -> int:
    import avrec  # noqa: F401  (legacy Keras before TensorFlow)
    import tensorflow as tf

    path = resolve_model(args.model, args.output, args.model_name)
    model = tf.saved_model.load(str(path))
    serve = model.signatures["serving_default"]
    available = serve.structured_outputs["item_ids"].shape[-1]
    if not 1 <= args.k <= available:
        raise AvrecError(f"--k must be between 1 and {available} (the model's top-K), got {args.k}")
    result = serve(user_id=tf.constant([args.user]), history=tf.constant([args.history], shape=[1, len(args.history)],
                                                                          dtype=tf.string))
    item_ids = [item.decode() for item in result["item_ids"][0, :args.k].numpy()]
    scores = result["scores"][0, :args.k].numpy().tolist()
    titles = [title.decode() for title in model.signatures["item_titles"](item_id=tf.constant(item_ids))["title"].numpy()]
    print_items(f"top {args.k} for user {args.user} from {path}:", list(zip(item_ids, scores)), titles)
    return 0
