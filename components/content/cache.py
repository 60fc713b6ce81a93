"""The embedding cache: content key -> vector, per modality and encoder, kept across runs.

A key hashes an input's bytes (the text, the media file) together with the identity of the encoder that embeds it,
so a changed title re-encodes exactly that item and a rebuilt encoder invalidates only its own modality. Shards are
written through tf.io.gfile, so the cache may live on GCS when the job runs on Dataflow.
"""
from __future__ import annotations

import hashlib
import io
import os
import uuid
import zipfile

import numpy as np
import tensorflow as tf

from avrec.config import EncoderConfig
from avrec.errors import AvrecError

# The cache gains one shard per modality per run that encodes something; beyond this many they are merged.
MAX_CACHE_SHARDS = 8


def encoder_identity(*handles: str) -> str:
    """What a cache key says about the encoder: a local SavedModel by its TF fingerprint (so a rebuild with other
    weights invalidates the cache, a moved folder does not), a remote handle by its URL (versioned, immutable)."""
    digest = hashlib.sha256()
    for handle in handles:
        local = [] if "://" in handle else [os.path.join(handle, name) for name in ("fingerprint.pb", "saved_model.pb")]
        files = [path for path in local if os.path.isfile(path)]
        if files:
            with open(files[0], "rb") as handle_file:
                digest.update(handle_file.read())
        else:
            digest.update(handle.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def encoder_identities(encoders: EncoderConfig) -> dict[str, str]:
    """The identity of each modality's encoder (handles resolved)."""
    return {"text": encoder_identity(encoders.text_preprocessor, encoders.text_encoder),
            "image": encoder_identity(encoders.image_feature_vector), "audio": encoder_identity(encoders.audio)}


def content_key(identity: str, data: bytes) -> str:
    return hashlib.sha256(identity.encode() + b"\0" + data).hexdigest()


class VectorStore:
    """Content key -> vector for one modality and encoder: .npz shards under cache_dir, each written under a
    temporary name and renamed into place, so readers never see a partial shard and concurrent runs lose nothing."""

    def __init__(self, cache_dir: str, modality: str, identity: str):
        self.root = os.path.join(cache_dir, f"{modality}-{identity[:16]}")

    def shards(self) -> list[str]:
        return sorted(tf.io.gfile.glob(os.path.join(self.root, "*.npz")))

    @staticmethod
    def _read(shards: list[str]) -> dict[str, np.ndarray]:
        entries = {}
        for shard in shards:
            try:
                with tf.io.gfile.GFile(shard, "rb") as handle:
                    data = handle.read()
                with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                    entries.update(zip(arrays["keys"].tolist(), arrays["vectors"]))
            except tf.errors.NotFoundError:
                raise FileNotFoundError(shard) from None
            except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise AvrecError(f"the embedding cache file {shard} is unreadable ({e}); delete it and rerun") from e
        return entries

    def load(self) -> dict[str, np.ndarray]:
        for _ in range(2):
            try:
                return self._read(self.shards())
            except FileNotFoundError:  # a concurrent compaction replaced the shards listed: list them again
                continue
        return self._read(self.shards())

    def append(self, keys: list[str], vectors: list[np.ndarray]) -> None:
        tf.io.gfile.makedirs(self.root)
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys, dtype="U64"), vectors=np.stack(vectors).astype(np.float32))
        name = uuid.uuid4().hex
        temporary = os.path.join(self.root, f".{name}.tmp")
        with tf.io.gfile.GFile(temporary, "wb") as handle:
            handle.write(buffer.getvalue())
        tf.io.gfile.rename(temporary, os.path.join(self.root, f"{name}.npz"), overwrite=True)

    def compact(self) -> None:
        shards = self.shards()
        if len(shards) > MAX_CACHE_SHARDS:
            entries = self._read(shards)
            self.append(list(entries), list(entries.values()))
            for shard in shards:
                try:
                    tf.io.gfile.remove(shard)
                except tf.errors.NotFoundError:
                    pass
