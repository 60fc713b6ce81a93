"""What the encoder tests share: the reference outputs of the original implementations, computed once by
scripts/make_encoder_fixtures.py (sentence-transformers, torchvision, musicnn), and cosine similarity."""
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "encoders"


def cosine(a, b):
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
