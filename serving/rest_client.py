"""The REST client of a TF Serving-compatible server (this project's or tensorflow_model_server's image)."""
from __future__ import annotations

import json

import requests

from avrec import contract
from avrec.serving.client import ServingClient, ServingRequestError


class RestClient(ServingClient):
    def __init__(self, url: str, model_name: str, timeout: float = 10.0):
        super().__init__(url.rstrip("/"), model_name)
        self.timeout = timeout
        self._session = requests.Session()
        self._model_url = f"{self.url}/v1/models/{model_name}"

    def _request(self, method: str, url: str, body: dict | None = None) -> dict:
        try:
            response = self._session.request(method, url, data=None if body is None else json.dumps(body),
                                             headers={"Content-Type": "application/json"}, timeout=self.timeout)
        except requests.ConnectionError as error:
            raise ServingRequestError(f"cannot reach the model server at {self.url} ({type(error).__name__}: "
                                      "connection refused or host unreachable); is it running?") from None
        except requests.Timeout:
            raise ServingRequestError(f"the model server at {self.url} did not answer within {self.timeout} s") \
                from None
        try:
            answer = response.json()
        except ValueError:
            answer = {"error": response.text[:200]}
        if response.status_code != 200:
            raise ServingRequestError(f"the model server at {self.url} answered HTTP {response.status_code} to "
                                      f"{method} {url[len(self.url):]}: {answer.get('error', answer)}",
                                      response.status_code)
        return answer

    def predict(self, inputs: dict[str, list], signature: str = "") -> dict[str, list]:
        answer = self._request("POST", f"{self._model_url}:predict", {"signature_name": signature, "inputs": inputs})
        outputs = answer["outputs"]
        if isinstance(outputs, dict):
            return outputs
        # TF Serving leaves out the name of a signature's only output.
        (name,) = self.signature_def(signature or contract.SERVING_DEFAULT)["outputs"]
        return {name: outputs}

    def status(self) -> dict:
        return self._request("GET", self._model_url)

    def metadata(self) -> dict:
        return self._request("GET", f"{self._model_url}/metadata")

    def close(self) -> None:
        self._session.close()
