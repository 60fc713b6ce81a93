"""TF Serving's REST API: every malformed request is a 4xx whose JSON error names the problem, never a traceback."""
from __future__ import annotations

import functools
import json

import pytest
import requests

from tests.support.serving import MODEL

PREDICT = f"/v1/models/{MODEL}:predict"
GOOD = {"user_id": ["u1"], "history": [["i1"]]}
BAD_REST_REQUESTS = [
    # (name, method, path, body (str: sent as is), status, text the error must contain)
    ("malformed JSON", "POST", PREDICT, '{"instances": [', 400, "JSON Parse error"),
    ("empty body", "POST", PREDICT, "", 400, "The document is empty"),
    ("not UTF-8", "POST", PREDICT, b'{"inputs": "\xff"}', 400, "not UTF-8"),
    ("lone surrogate", "POST", PREDICT, '{"inputs": {"user_id": ["\\ud800"], "history": [["i1"]]}}', 400,
     "inputs['user_id'][0]: \"\\ud800\" is not valid Unicode (a lone surrogate)"),
    ("number of 5000 digits", "POST", PREDICT, '{"inputs": [' + "1" * 5000 + "]}", 400,
     "JSON Parse error: a number has more than 4300 digits"),
    ("body not an object", "POST", PREDICT, "[1, 2]", 400, "Is not object"),
    ("no inputs or instances", "POST", PREDICT, {"signature_name": "serving_default"}, 400,
     "Missing 'inputs' or 'instances' key"),
    ("both inputs and instances", "POST", PREDICT, {"inputs": GOOD, "instances": [GOOD]}, 400,
     "only one of 'inputs' or 'instances'"),
    ("unknown request key", "POST", PREDICT, {"inputs": GOOD, "k": 5}, 400, "unknown key(s) ['k']"),
    ("signature_name not a string", "POST", PREDICT, {"signature_name": 3, "inputs": GOOD}, 400,
     "'signature_name' must be a string"),
    ("unknown signature", "POST", PREDICT, {"signature_name": "nope", "inputs": GOOD}, 400,
     'Serving signature name: "nope" not found'),
    ("instances not a list", "POST", PREDICT, {"instances": GOOD}, 400, "Expecting 'instances' to be a list"),
    ("empty instances", "POST", PREDICT, {"instances": []}, 400, "No values in 'instances'"),
    ("number for a string", "POST", PREDICT, {"inputs": {"user_id": [42], "history": [["i1"]]}}, 400,
     "inputs['user_id'][0]: JSON value 42 is not of expected type string"),
    ("null for a string", "POST", PREDICT, {"instances": [{"user_id": None, "history": ["i1"]}]}, 400,
     "instances[0]['user_id']: JSON value null is not of expected type string"),
    ("missing input", "POST", PREDICT, {"inputs": {"user_id": ["u1"]}}, 400, "requires input(s) ['history']"),
    ("unknown input", "POST", PREDICT, {"inputs": {**GOOD, "age": [3]}}, 400,
     "signature 'serving_default' has no input named 'age'"),
    ("instances with different keys", "POST", PREDICT,
     {"instances": [{"user_id": "u1", "history": ["i1"]}, {"user_id": "u2"}]}, 400,
     "instances[1] has keys ['user_id'] but instances[0] has ['history', 'user_id']"),
    ("plain instances for a multi-input signature", "POST", PREDICT, {"instances": ["u1"]}, 400,
     "holds plain values/lists, but signature 'serving_default' has inputs ['history', 'user_id']"),
    ("ragged columnar history", "POST", PREDICT, {"inputs": {"user_id": ["u1", "u2"], "history": [["i1", "i2"], ["i3"]]}},
     400, "inputs['history'][1] has 1 elements but inputs['history'][0] has 2: ragged"),
    ("ragged row history", "POST", PREDICT,
     {"instances": [{"user_id": "u1", "history": ["i1", "i2"]}, {"user_id": "u2", "history": ["i3"]}]}, 400,
     "instances[1]['history'] has shape [1] but instances[0]['history'] has [2]"),
    ("value where a list belongs", "POST", PREDICT, {"inputs": {"user_id": ["u1", "u2"], "history": [["i1"], "i2"]}},
     400, "inputs['history'][1]: found value \"i2\" where a list was expected"),
    ("history of the wrong rank", "POST", PREDICT, {"inputs": {"user_id": ["u1"], "history": ["i1"]}}, 400,
     "input 'history' of signature 'serving_default' must have shape [-1, -1], got [1]"),
    ("user_id of the wrong rank", "POST", PREDICT, {"inputs": {"user_id": [["u1"]], "history": [["i1"]]}}, 400,
     "input 'user_id' of signature 'serving_default' must have shape [-1], got [1, 1]"),
    ("batch sizes disagree", "POST", PREDICT, {"inputs": {"user_id": ["u1", "u2"], "history": [["i1"]]}}, 400,
     "disagree on the batch size (dimension 0): 'history' has 1, 'user_id' has 2"),
    ("JSON nested too deeply", "POST", PREDICT, '{"inputs": ' + "[" * 100_000 + "]" * 100_000 + "}", 400,
     "nested too deeply"),
    ("tensor of more than 32 dimensions", "POST", PREDICT,
     {"inputs": {"user_id": ["u1"], "history": functools.reduce(lambda value, _: [value], range(35), "i1")}},
     400, "inputs['history'] is nested 35 lists deep; tensors have at most 32 dimensions"),
    ("bad base64", "POST", PREDICT, {"signature_name": "similar_items", "inputs": [{"b64": "%%%"}]}, 400,
     "is not valid base64"),
    ("unknown model", "POST", "/v1/models/nope:predict", {"inputs": GOOD}, 404,
     "Servable not found for request: Latest(nope)"),
    ("unknown version", "POST", f"/v1/models/{MODEL}/versions/9:predict", {"inputs": GOOD}, 404,
     f"Servable not found for request: Specific({MODEL}, 9)"),
    ("status of unknown model", "GET", "/v1/models/nope", None, 404, "Could not find any versions of model nope"),
    ("status of unknown version", "GET", f"/v1/models/{MODEL}/versions/9", None, 404,
     f"Could not find version 9 of model {MODEL}"),
    ("metadata of unknown model", "GET", "/v1/models/nope/metadata", None, 404, "Servable not found"),
    ("no model name", "GET", "/v1/models", None, 400, "Missing model name in request."),
    ("unsupported verb", "POST", f"/v1/models/{MODEL}:classify", {"examples": []}, 400,
     f"Malformed request: POST /v1/models/{MODEL}:classify"),
    ("predict with GET", "GET", PREDICT, None, 400, f"Malformed request: GET {PREDICT}"),
    ("unsupported method", "DELETE", f"/v1/models/{MODEL}", None, 405, "Method Not Allowed"),
    ("path outside the API", "GET", "/models/avrec", None, 404, "Not found: /models/avrec"),
]


@pytest.mark.parametrize("name,method,path,body,status,text", BAD_REST_REQUESTS, ids=[r[0] for r in BAD_REST_REQUESTS])
def test_bad_rest_request_is_a_4xx_naming_the_problem(avrec_server, name, method, path, body, status, text):
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    response = requests.request(method, f"http://127.0.0.1:{avrec_server.rest_port}{path}", data=data, timeout=10)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert text in response.json()["error"]
    assert "Traceback" not in response.text


SEARCH = {"signature_name": "search_by_embedding"}
BAD_NUMBERS = [
    # (name, query_embedding row as JSON text, the error)
    ("NaN", "[NaN, 0, 0, 0, 0, 0, 0, 0]", "inputs['query_embedding'][0][0]: NaN is not a finite float32"),
    ("Infinity", "[0, -Infinity, 0, 0, 0, 0, 0, 0]", "inputs['query_embedding'][0][1]: -Infinity is not a finite"),
    ("beyond float32", "[0, 0, 1e39, 0, 0, 0, 0, 0]", "inputs['query_embedding'][0][2]: 1e+39 is not a finite"),
    ("beyond float64", "[0, 0, 0, 1e999, 0, 0, 0, 0]", "inputs['query_embedding'][0][3]: Infinity is not a finite"),
    ("integer of 400 digits", f"[0, 0, 0, 0, {'9' * 400}, 0, 0, 0]",
     f"inputs['query_embedding'][0][4]: {'9' * 100}... is not a finite float32"),
    ("string", '[0, 0, 0, 0, 0, "0", 0, 0]', "inputs['query_embedding'][0][5]: JSON value \"0\" is not of expected "
                                            "type float32"),
]


@pytest.mark.parametrize("name,row,text", BAD_NUMBERS, ids=[case[0] for case in BAD_NUMBERS])
def test_a_number_no_float32_holds_is_a_400_naming_the_value(numeric_server, name, row, text):
    body = json.dumps({**SEARCH, "inputs": {"query_embedding": ["ROW"]}}).replace('"ROW"', row)
    response = requests.post(f"http://127.0.0.1:{numeric_server.rest_port}{PREDICT}", data=body, timeout=10)
    assert response.status_code == 400
    assert text in response.json()["error"]


def test_scores_beyond_float32_are_answered_as_strict_json(numeric_server):
    """Finite inputs whose scores overflow: "Infinity" as protobuf's JSON mapping writes it, not a bare token."""
    response = requests.post(f"http://127.0.0.1:{numeric_server.rest_port}{PREDICT}", timeout=10,
                             json={**SEARCH, "inputs": {"query_embedding": [[3e38] * 8]}})
    assert response.status_code == 200 and "Infinity" not in response.text.replace('"Infinity"', "")
    assert json.loads(response.text)["outputs"]["scores"] == [["Infinity"] * 3]
