"""The server's start-up: what it refuses, and serving nothing until a first version is pushed."""
from __future__ import annotations

import pytest

from avrec.errors import AvrecError
from avrec.serving.client import ServingRequestError
from avrec.serving.connect import connect
from avrec.serving.server import ModelServer
from server_process import wait_until
from tests.support.serving import CATALOG_2, K, LOOPBACK, MODEL, assert_items, expected_top_k, publish

def test_server_refuses_a_missing_model_directory_and_a_busy_port(tmp_path, avrec_server):
    with pytest.raises(AvrecError, match="no model directory .*nope"):
        ModelServer(tmp_path, "nope")
    (tmp_path / MODEL).mkdir()
    busy = ModelServer(tmp_path, MODEL, LOOPBACK.replace(rest_port=avrec_server.rest_port))
    with pytest.raises(AvrecError, match=f"cannot listen for REST on 127.0.0.1:{avrec_server.rest_port}"):
        busy.start()


def test_server_without_versions_answers_not_found_until_one_is_pushed(tmp_path):
    (tmp_path / MODEL).mkdir()
    with ModelServer(tmp_path, MODEL, LOOPBACK.replace(poll_seconds=0.1)) as server:
        with connect(f"http://127.0.0.1:{server.rest_port}", MODEL) as client:
            with pytest.raises(ServingRequestError, match="no version has loaded yet") as raised:
                client.similar("i1")
            assert raised.value.code == 404
            publish(CATALOG_2, tmp_path / MODEL, 7)
            wait_until(lambda: server.repository.current is not None)
            assert_items(client.similar("i1"), expected_top_k(CATALOG_2, CATALOG_2.item_embeddings[1], ["i1"], K))
