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


def test_pruning_keeps_the_newest_and_the_one_being_served(tmp_path):
    from avrec.components.pusher import prune

    for version in (1, 2, 3, 4, 5):
        _model(tmp_path / str(version), str(version).encode())
    (tmp_path / "not-a-version").mkdir()
    deleted = prune(str(tmp_path), keep=2, serving=str(tmp_path / "3"))
    assert sorted(deleted) == [str(tmp_path / "1"), str(tmp_path / "2")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3", "4", "5", "not-a-version"]
