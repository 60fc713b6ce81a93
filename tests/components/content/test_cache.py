"""The embedding cache's shards."""
from pathlib import Path

import numpy as np
import pytest

from avrec.components.content.cache import MAX_CACHE_SHARDS, VectorStore
from avrec.errors import AvrecError


def test_vector_store_appends_atomically_and_compacts(tmp_path):
    store = VectorStore(str(tmp_path), "text", "0" * 64)
    rng = np.random.default_rng(0)
    expected = {}
    for shard in range(MAX_CACHE_SHARDS + 1):
        vectors = rng.normal(size=(3, 4)).astype(np.float32)
        keys = [f"{shard}-{i}" for i in range(3)]
        store.append(keys, list(vectors))
        expected.update(zip(keys, vectors))
    assert len(list(Path(store.root).glob("*.npz"))) == MAX_CACHE_SHARDS + 1
    store.compact()
    assert len(list(Path(store.root).glob("*.npz"))) == 1 and not list(Path(store.root).glob(".*"))
    loaded = store.load()
    assert loaded.keys() == expected.keys()
    for key, vector in expected.items():
        np.testing.assert_array_equal(loaded[key], vector)

    (Path(store.root) / "broken.npz").write_bytes(b"garbage")
    with pytest.raises(AvrecError, match="broken.npz is unreadable"):
        store.load()
