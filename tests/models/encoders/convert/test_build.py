"""The setup step's build: idempotent, rebuilt when stale, atomic."""
import json

import pytest

from avrec.models.encoders.convert.build import ensure_built
from avrec.models.encoders.errors import EncoderError


def test_build_is_idempotent_and_rebuilds_when_stale(tmp_path):
    assert ensure_built(tmp_path, only=["audio"], log=lambda _: None) == {"audio": "built"}
    assert ensure_built(tmp_path, only=["audio"], log=lambda _: None) == {"audio": "current"}
    (tmp_path / ".stamps" / "audio.json").write_text(json.dumps({"fingerprint": "from older code"}))
    assert ensure_built(tmp_path, only=["audio"], log=lambda _: None) == {"audio": "built"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stamps", "musicnn_msd"]  # no staging leftovers
    with pytest.raises(EncoderError, match="unknown encoder group"):
        ensure_built(tmp_path, only=["smell"])
