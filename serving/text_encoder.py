"""The text encoder a model with content embeddings carries beside it (avrec.contract.TEXT_ENCODER_DIR): what turns
a free-text query, or a new item's text, into the pretrained text embedding the model indexes."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from avrec import contract
from avrec.errors import ModelNotFoundError


class TextEncoder:
    def __init__(self, function):
        self._function = function

    def __call__(self, texts: list[str]) -> np.ndarray:
        import tensorflow as tf

        return self._function(**{contract.TEXT: tf.constant(list(texts), tf.string)})[contract.EMBEDDING].numpy()


def text_encoder_dir(model_dir: str | Path) -> Path:
    return Path(model_dir) / contract.TEXT_ENCODER_DIR


def load_text_encoder(encoder_dir: str | Path) -> TextEncoder:
    """The text encoder saved in `encoder_dir` (a model's TEXT_ENCODER_DIR)."""
    import avrec  # noqa: F401  (legacy Keras before TensorFlow)
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer's ops before loading)

    path = Path(encoder_dir)
    if not (path / contract.TEXT_ENCODER_GRAPH).is_file():
        raise ModelNotFoundError(f"no text encoder at {path} (expected {contract.TEXT_ENCODER_GRAPH} there, as "
                                 "`avrec run` saves it beside a model trained with content embeddings)")
    with tempfile.TemporaryDirectory(prefix="avrec-text-encoder-") as folder:  # the SavedModel layout, as links
        view = Path(folder)
        for child in path.iterdir():
            name = "saved_model.pb" if child.name == contract.TEXT_ENCODER_GRAPH else child.name
            (view / name).symlink_to(child.resolve())
        loaded = tf.saved_model.load(str(view))
    return TextEncoder(loaded.signatures[contract.SERVING_DEFAULT])
