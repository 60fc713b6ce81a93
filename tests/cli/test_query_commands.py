"""`avrec serve`, `recommend` and `similar` against a server in a subprocess, and in process."""
from __future__ import annotations

import pytest

from avrec import cli
from server_process import avrec_server
from tests.support.serving import CATALOG_1, expected_recommend, expected_top_k

def test_cli_serve_recommend_and_similar(model_base, tmp_path, capsys):
    served = avrec_server(model_base, tmp_path / "serve.log")
    try:
        served.wait_ready()
        for url in (served.rest_url, served.grpc_url):
            assert cli.main(["recommend", "--server", url, "--user", "u1", "--history", "i3,i4", "--k", "3"]) == 0
            rows = [line.split(None, 3) for line in capsys.readouterr().out.splitlines()[1:]]
            ids, scores = expected_recommend(CATALOG_1, "u1", ["i3", "i4"], k=3)
            assert [row[1] for row in rows] == ids
            assert [float(row[2]) for row in rows] == pytest.approx(scores, abs=1e-4)
            assert [row[3] for row in rows] == [f"Title {item[1:]}" for item in ids]
        assert cli.main(["similar", "--server", served.rest_url, "--item", "i5", "--k", "2"]) == 0
        out = capsys.readouterr().out
        assert [line.split()[1] for line in out.splitlines()[1:]] == expected_top_k(
            CATALOG_1, CATALOG_1.item_embeddings[5], ["i5"], 2)[0]
        assert cli.main(["similar", "--server", served.rest_url, "--item", "i5", "--k", "11"]) == 2
        assert "k must be between 1 and 10" in capsys.readouterr().err
        assert cli.main(["recommend", "--server", served.rest_url, "--model-name", "nope", "--user", "u1"]) == 2
        assert "answered HTTP 404" in capsys.readouterr().err
    finally:
        assert served.stop() == 0, served.log_path.read_text()
    assert cli.main(["similar", "--server", served.rest_url, "--item", "i5"]) == 2
    assert "cannot reach the model server" in capsys.readouterr().err
