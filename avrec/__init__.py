"""avrec: audio/video recommendations with TFRS two-tower models, a TFX pipeline and TF Serving.

TFRS needs Keras 2, so the legacy-Keras switch is set here, before anything can import TensorFlow; every entry point
(CLI, tests, TFX module code, Beam workers) imports this package first.
"""
import os
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The Google client libraries the TFX stack pulls in warn about their own future Python/grpcio support on import.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")

__version__ = "0.1.0"
