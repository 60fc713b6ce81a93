"""avrec: audio/video recommendations with TFRS two-tower models, a TFX pipeline and TF Serving.

TFRS needs Keras 2, so the legacy-Keras switch is set here, before anything can import TensorFlow; every entry point
(CLI, tests, TFX module code, Beam workers) imports this package first.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
