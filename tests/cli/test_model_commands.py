"""`recommend`, `similar` and `search` on a pushed model in process (--model): same answers as a server, the
newest loadable version, and one-line errors."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from avrec import cli
from tests.support.serving import CATALOG_1, CATALOG_2, MODEL, expected_recommend, expected_top_k, publish


def _rows(out: str) -> list[list[str]]:
    return [line.split(None, 3) for line in out.splitlines()[1:]]


def test_recommend_and_similar_in_process_match_numpy(model_base, capsys):
    assert cli.main(["recommend", "--model", str(model_base / MODEL), "--user", "u1", "--history", "i3,i4",
                     "--k", "3"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [row[1] for row in rows] == expected_recommend(CATALOG_1, "u1", ["i3", "i4"], k=3)[0]
    assert [row[3] for row in rows] == [f"Title {row[1][1:]}" for row in rows]
    assert cli.main(["similar", "--model", str(model_base / MODEL / "1"), "--item", "i5", "--k", "2"]) == 0
    assert [row[1] for row in _rows(capsys.readouterr().out)] == expected_top_k(
        CATALOG_1, CATALOG_1.item_embeddings[5], ["i5"], 2)[0]


def test_a_corrupt_newest_version_falls_back_to_the_older_one_with_a_warning(tmp_path, capsys):
    (tmp_path / MODEL).mkdir()
    publish(CATALOG_2, tmp_path / MODEL, 1)
    (tmp_path / MODEL / "2").mkdir()
    (tmp_path / MODEL / "2" / "saved_model.pb").write_bytes(b"not a protobuf")
    assert cli.main(["similar", "--model", str(tmp_path / MODEL), "--item", "i1", "--k", "2"]) == 0
    captured = capsys.readouterr()
    assert [row[1] for row in _rows(captured.out)] == expected_top_k(
        CATALOG_2, CATALOG_2.item_embeddings[1], ["i1"], 2)[0]
    [warning] = captured.err.strip().splitlines()
    assert warning.startswith("warning: ") and str(tmp_path / MODEL / "2") in warning and "using" in warning


def test_user_errors_are_one_line(model_base, tmp_path, capsys):
    cases = [
        (["search", "robots", "--model", str(model_base / MODEL)], "no text search"),
        (["recommend", "--model", str(tmp_path), "--user", "u1"], "no pushed model version under"),
        (["similar", "--model", str(model_base / MODEL), "--item", "i1", "--k", "11"], "k must be between 1 and 10"),
    ]
    for argv, text in cases:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert text in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_argument_that_is_not_utf8_is_a_user_error(model_base):
    result = subprocess.run([sys.executable, "-m", "avrec.cli", "search", os.fsdecode(b"caf\xe9"), "--model",
                             str(model_base / MODEL)], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "argument query is not valid UTF-8" in result.stderr and "Traceback" not in result.stderr
