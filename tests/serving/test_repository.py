"""Versions: a hot swap under load fails no request; corrupt, half-written and failing versions never take over."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import requests
import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, prediction_log_pb2

from avrec.serving.connect import connect
from avrec.serving.server import ModelServer
from server_process import wait_until
from tests.support.serving import (CATALOG_1, CATALOG_2, CATALOG_3, K, LOOPBACK, MODEL, expected_recommend,
                                   predict_request, publish, tensor_proto)

PREDICT = f"/v1/models/{MODEL}:predict"

def _write_warmup(version_dir: Path, request: predict_pb2.PredictRequest) -> None:
    (version_dir / "assets.extra").mkdir()
    record = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    with tf.io.TFRecordWriter(str(version_dir / "assets.extra" / "tf_serving_warmup_requests")) as writer:
        writer.write(record.SerializeToString())


def _version_states(server: ModelServer) -> dict[int, tuple[str, str]]:
    status = server.repository.status(MODEL)
    return {s.version: (get_model_status_pb2.ModelVersionStatus.State.Name(s.state), s.status.error_message)
            for s in status.model_version_status}


def test_hot_swap_under_load_fails_no_request_and_bad_versions_never_take_over(tmp_path):
    (tmp_path / MODEL).mkdir()
    publish(CATALOG_1, tmp_path / MODEL, 1)
    answers = {version: expected_recommend(catalog, "u4", ["i2"])[0]
               for version, catalog in ((1, CATALOG_1), (2, CATALOG_2), (4, CATALOG_3))}
    with ModelServer(tmp_path, MODEL, LOOPBACK.replace(poll_seconds=0.1)) as server:
        urls = [f"http://127.0.0.1:{server.rest_port}", f"grpc://127.0.0.1:{server.grpc_port}"]
        seen: list[list[int]] = [[] for _ in range(4)]
        failures: list[str] = []
        stop = threading.Event()

        def load(worker: int) -> None:
            with connect(urls[worker % 2], MODEL) as client:
                for _ in range(3000):  # bounded; stops early once the new version has been seen for a while
                    if stop.is_set():
                        return
                    try:
                        items = [item for item, _ in client.recommend("u4", ["i2"], k=K)]
                    except Exception as error:
                        failures.append(f"{type(error).__name__}: {error}")
                        continue
                    version = next((v for v, ids in answers.items() if ids == items), None)
                    if version is None:
                        failures.append(f"answer from no known version: {items}")
                    seen[worker].append(version)

        workers = [threading.Thread(target=load, args=(n,)) for n in range(len(seen))]
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        version_2 = tmp_path / MODEL / ".v2"
        CATALOG_2.save_model(version_2, k=K)
        _write_warmup(version_2, predict_request(user_id=tensor_proto(["u1"]), history=tensor_proto([["i1", ""]])))
        version_2.rename(tmp_path / MODEL / "2")
        wait_until(lambda: all(versions[-5:] == [2] * 5 for versions in seen), timeout=60)
        stop.set()
        for worker in workers:
            worker.join()
        total = sum(len(versions) for versions in seen)
        print(f"\nhot swap: {total} requests, {len(failures)} failed, "
              f"{sum(v.count(1) for v in seen)} answered by version 1 and {sum(v.count(2) for v in seen)} by version 2")
        assert failures == []
        for versions in seen:  # each client moves from version 1 to version 2 once, never back
            assert versions == sorted(versions) and versions[0] == 1 and versions[-1] == 2
        assert _version_states(server) == {2: ("AVAILABLE", ""), 1: ("END", "")}

        # A corrupt version and a half-written one fail to load; version 2 keeps serving.
        (tmp_path / MODEL / "3").mkdir()
        (tmp_path / MODEL / "3" / "saved_model.pb").write_bytes(b"not a protobuf")
        shutil.copytree(tmp_path / MODEL / "2" / "variables", tmp_path / MODEL / "4" / "variables")
        states = wait_until(lambda: (lambda s: s if 3 in s and 4 in s and s[4][0] == "END" else None)(
            _version_states(server)))
        assert states[3] == ("END", f"{tmp_path / MODEL / '3' / 'saved_model.pb'} is not a readable SavedModel: "
                                    "DecodeError: Error parsing message")
        assert states[4] == ("END", f"{tmp_path / MODEL / '4'} holds no saved_model.pb or saved_model.pbtxt "
                                    "(half written, or no SavedModel)")
        with connect(urls[0], MODEL) as client:
            assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == answers[2]
            assert client.status()["model_version_status"][2]["state"] == "AVAILABLE"

            # Once the half-written version is complete it is retried, loaded and served.
            CATALOG_3.save_model(tmp_path / MODEL / ".v4", k=K)
            for part in (tmp_path / MODEL / ".v4").iterdir():
                if part.name != "variables":
                    part.rename(tmp_path / MODEL / "4" / part.name)
            shutil.rmtree(tmp_path / MODEL / "4" / "variables")
            (tmp_path / MODEL / ".v4" / "variables").rename(tmp_path / MODEL / "4" / "variables")
            wait_until(lambda: server.repository.current.version == 4)
            assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == answers[4]
            assert _version_states(server)[2] == ("END", "")

            # A version whose warmup request fails is not swapped in either.
            bad_warmup = tmp_path / MODEL / ".v5"
            CATALOG_1.save_model(bad_warmup, k=K)
            _write_warmup(bad_warmup, predict_request(user_id=tensor_proto(["u1"])))
            bad_warmup.rename(tmp_path / MODEL / "5")
            states = wait_until(lambda: (lambda s: s if 5 in s and s[5][0] == "END" else None)(
                _version_states(server)))
            warmup = tmp_path / MODEL / "5" / "assets.extra" / "tf_serving_warmup_requests"
            assert states[5][1].startswith(f"{warmup} record 0: ServingError: signature 'serving_default' "
                                           "requires input(s) ['history']")
            assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == answers[4]


class _PickyModule(tf.Module):
    """Serves numbers given as text: refuses the server's made-up warm-up input (""), which must not stop it."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def double(self, text):
        return {"doubled": 2 * tf.strings.to_number(text)}


def test_a_signature_refusing_the_made_up_warmup_input_still_loads(tmp_path):
    module = _PickyModule()
    tf.saved_model.save(module, str(tmp_path / MODEL / "1"), signatures={"serving_default": module.double})
    with ModelServer(tmp_path, MODEL, LOOPBACK) as server:
        response = requests.post(f"http://127.0.0.1:{server.rest_port}{PREDICT}", json={"instances": ["1.5", "2"]})
        assert response.json() == {"predictions": [3.0, 4.0]}
        bad = requests.post(f"http://127.0.0.1:{server.rest_port}{PREDICT}", json={"instances": ["x"]})
        assert bad.status_code == 400 and "StringToNumberOp could not correctly convert string: x" in bad.text


STRAY = ["99999999999999999999", "\u00b2", "-1", "1.5", "v2", "README"]  # none a version to TF Serving


def test_stray_entries_under_the_model_are_reported_once_and_block_nothing(tmp_path, caplog):
    (tmp_path / MODEL).mkdir()
    for name in STRAY:
        (tmp_path / MODEL / name).mkdir()
    (tmp_path / MODEL / "7").write_text("a file, not a version directory")
    publish(CATALOG_1, tmp_path / MODEL, 1)
    with caplog.at_level("WARNING", logger="avrec.serving.repository"):
        with ModelServer(tmp_path, MODEL, LOOPBACK.replace(poll_seconds=0.05)) as server:
            assert server.repository.current.version == 1
            with connect(f"http://127.0.0.1:{server.rest_port}", MODEL) as client:
                assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == \
                    expected_recommend(CATALOG_1, "u4", ["i2"])[0]
                publish(CATALOG_2, tmp_path / MODEL, 2)
                wait_until(lambda: server.repository.current.version == 2)
                assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == \
                    expected_recommend(CATALOG_2, "u4", ["i2"])[0]
    ignored = [record.getMessage() for record in caplog.records if "not a version directory" in record.getMessage()]
    assert sorted(ignored) == sorted(f"{tmp_path / MODEL}: ignoring {tmp_path / MODEL / name}, which is not a "
                                     "version directory (a version is a directory named by an int64 number)"
                                     for name in [*STRAY, "7"])
