"""TF Serving's version-directory rule."""
from avrec import versions


def test_only_directories_named_by_an_int64_are_versions(tmp_path):
    for name in ("1", "20", "007", "99999999999999999999", "²", "1.5", "latest", ".staging-3"):
        (tmp_path / name).mkdir()
    (tmp_path / "30").write_text("a file, not a directory")
    scan = versions.scan(tmp_path)
    assert [number for number, _ in scan.versions] == [20, 7, 1]
    assert scan.ignored == sorted(["99999999999999999999", "²", "1.5", "latest", "30"])
    assert versions.next_version(tmp_path) == 21 and versions.next_version(tmp_path / "nowhere") == 1
    assert versions.scan(tmp_path / "nowhere").versions == []


def test_saved_model_versions_need_a_saved_model(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "2").mkdir()
    assert [number for number, _ in versions.saved_model_versions(tmp_path)] == [1]
