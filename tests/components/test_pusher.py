"""The pusher pushes a model only when it is not already the newest served version."""
import shutil

from avrec.components.pusher import served_copy


def _model(path, weights: bytes):
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"graph")
    (path / "variables" / "variables.data-00000-of-00001").write_bytes(weights)
    return path


def test_the_newest_version_with_the_same_files_is_the_served_copy(tmp_path):
    model = _model(tmp_path / "trained", b"w1")
    base = tmp_path / "serving"
    assert served_copy(str(model), str(base)) is None  # nothing served yet
    shutil.copytree(model, base / "100")
    assert served_copy(str(model), str(base)) == str(base / "100")
    _model(base / "200", b"w2")  # a newer, different model is being served: push again
    assert served_copy(str(model), str(base)) is None
    other = _model(tmp_path / "retrained", b"w2")
    assert served_copy(str(other), str(base)) == str(base / "200")
