"""`avrec recommend --model` and `avrec search`: load a pushed SavedModel in process, print its top-K with titles."""
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


def _load(args: argparse.Namespace):
    import avrec  # noqa: F401  (legacy Keras before TensorFlow)
    import tensorflow as tf

    path = resolve_model(args.model, args.output, args.model_name)
    return path, tf.saved_model.load(str(path))


def _top(model, signature: str, k: int, **inputs) -> list[tuple[str, float]]:
    import tensorflow as tf

    function = model.signatures[signature]
    available = function.structured_outputs["item_ids"].shape[-1]
    if not 1 <= k <= available:
        raise AvrecError(f"--k must be between 1 and {available} (the model's top-K), got {k}")
    result = function(**{name: value if isinstance(value, tf.Tensor) else tf.constant(value, dtype=tf.string)
                         for name, value in inputs.items()})
    return list(zip((item.decode() for item in result["item_ids"][0, :k].numpy()),
                    result["scores"][0, :k].numpy().tolist()))


def _print_with_titles(model, heading: str, items: list[tuple[str, float]]) -> None:
    import tensorflow as tf

    ids = tf.constant([item for item, _ in items], dtype=tf.string)
    titles = [title.decode() for title in model.signatures["item_titles"](item_id=ids)["title"].numpy()]
    print_items(heading, items, titles)


def recommend_command(args: argparse.Namespace) -> int:
    path, model = _load(args)
    history = [args.history] if args.history else [[""]]
    items = _top(model, "serving_default", args.k, user_id=[args.user], history=history)
    _print_with_titles(model, f"top {args.k} for user {args.user} from {path}:", items)
    return 0


def search_command(args: argparse.Namespace) -> int:
    from avrec.models.export import load_text_encoder

    path, model = _load(args)
    encoder = load_text_encoder(path)
    if encoder is None or "search_by_embedding" not in model.signatures:
        raise AvrecError(f"the model at {path} has no text search: it was trained without content embeddings")
    import tensorflow as tf

    query = encoder(text=tf.constant([args.query]))["embedding"]
    items = _top(model, "search_by_embedding", args.k, query_embedding=query)
    _print_with_titles(model, f"top {args.k} for {args.query!r} from {path}:", items)
    return 0
