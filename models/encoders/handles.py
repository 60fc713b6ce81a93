"""Where the encoders come from: TF-Hub handles, i.e. a local SavedModel folder or a tfhub.dev / Kaggle URL.

The defaults point at the conversions `python -m avrec.models.encoders.build` writes under build/encoders/; any
field can be replaced by a real TF-Hub handle of the same interface where the internet is reachable, e.g.
text_preprocessor="https://tfhub.dev/tensorflow/bert_en_uncased_preprocess/3",
text_encoder="https://tfhub.dev/tensorflow/small_bert/bert_en_uncased_L-4_H-512_A-8/2",
image_feature_vector="https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5".
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from avrec.config import PROJECT_ROOT

DEFAULT_BUILD_DIR = PROJECT_ROOT / "build" / "encoders"

# The SavedModel folders each build group writes, in the order its converter's export() takes them.
OUTPUTS = {
    "text": ["minilm_l6_h384_preprocess", "minilm_l6_h384_encoder"],
    "vision": ["mobilenet_v2_feature_vector", "mobilenet_v2_classification"],
    "audio": ["musicnn_msd"],
}


@dataclasses.dataclass(frozen=True)
class EncoderHandles:
    """One handle per pretrained model; plain strings so that they can live in configuration files."""

    text_preprocessor: str
    text_encoder: str
    image_feature_vector: str
    image_classifier: str
    audio: str

    @classmethod
    def local(cls, build_dir: Path | str = DEFAULT_BUILD_DIR) -> "EncoderHandles":
        """The converted models under build_dir (as written by the build step)."""
        root = Path(build_dir)
        (pre, enc), (features, classifier), (music,) = OUTPUTS["text"], OUTPUTS["vision"], OUTPUTS["audio"]
        return cls(str(root / pre), str(root / enc), str(root / features), str(root / classifier), str(root / music))
