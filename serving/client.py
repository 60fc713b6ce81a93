"""Clients for a TF Serving-compatible server (this project's or tensorflow_model_server), over REST or gRPC.

Both speak only TF Serving's API, so they work unchanged against the official image. `k` is the caller's: the model
returns its top K (fixed at export, read from the metadata) and the client keeps the first k, refusing k > K.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import requests

from avrec.errors import AvrecError
from avrec.serving.protocol import DEFAULT_SIGNATURE

RECOMMEND_SIGNATURE = DEFAULT_SIGNATURE
RECOMMEND_EXCLUDE_SIGNATURE = "recommend"
SIMILAR_SIGNATURE = "similar_items"
TITLES_SIGNATURE = "item_titles"  # optional: item_id [batch] -> title [batch]


class ServingRequestError(AvrecError):
    """The server answered with an error, or could not be reached; `code` is the HTTP status or gRPC code name."""

    def __init__(self, message: str, code: int | str | None = None):
        super().__init__(message)
        self.code = code


def _padded(items) -> list[str]:
    """A list row as the contract expects it: ids as strings, and one "" (padding) for an empty list."""
    return [str(item) for item in items] or [""]


class ServingClient:
    """What is shared by the REST and gRPC clients: the recommender calls on top of `predict`."""

    def __init__(self, url: str, model_name: str):
        self.url = url
        self.model_name = model_name
        self._metadata: dict | None = None

    def predict(self, inputs: dict[str, list], signature: str = "") -> dict[str, list]:
        """Columnar predict: input name -> nested list; returns output name -> nested list (strings decoded)."""
        raise NotImplementedError

    def status(self) -> dict:
        """The model's version states, as TF Serving's GET /v1/models/NAME returns them."""
        raise NotImplementedError

    def metadata(self) -> dict:
        """The served version's signatures, as TF Serving's GET /v1/models/NAME/metadata returns them."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def recommend(self, user_id: str, history=(), k: int = 10, exclude=()) -> list[tuple[str, float]]:
        """Top-k (item id, score) for a user given their latest history (oldest first), excluding `exclude`."""
        inputs = {"user_id": [str(user_id)], "history": [_padded(history)]}
        signature = RECOMMEND_SIGNATURE
        if exclude:
            inputs["exclude"] = [_padded(exclude)]
            signature = RECOMMEND_EXCLUDE_SIGNATURE
        return self._top_k(signature, inputs, k)

    def similar(self, item_id: str, k: int = 10) -> list[tuple[str, float]]:
        """Top-k (item id, score) most similar to an item, the item itself excluded."""
        return self._top_k(SIMILAR_SIGNATURE, {"item_id": [str(item_id)]}, k)

    def _signature_defs(self) -> dict:
        """The served version's SignatureDefs (JSON form) by name, fetched once."""
        if self._metadata is None:
            self._metadata = self.metadata()
        return self._metadata["metadata"]["signature_def"]["signature_def"]

    def signature_def(self, signature: str) -> dict:
        signatures = self._signature_defs()
        if signature not in signatures:
            raise AvrecError(f"model '{self.model_name}' at {self.url} has no signature '{signature}'; "
                             f"it has {sorted(signatures)}")
        return signatures[signature]

    def titles(self, item_ids: list[str]) -> list[str] | None:
        """Titles of items ("" for unknown ones) if the model carries an item_titles signature, else None."""
        if TITLES_SIGNATURE not in self._signature_defs() or not item_ids:
            return None
        return self.predict({"item_id": list(item_ids)}, TITLES_SIGNATURE)["title"]

    def top_k_size(self, signature: str) -> int | None:
        """K of a signature's item_ids output [batch, K] (None if the model leaves it open)."""
        outputs = self.signature_def(signature)["outputs"]
        dims = outputs.get("item_ids", {}).get("tensor_shape", {}).get("dim", [])
        size = int(dims[1]["size"]) if len(dims) == 2 else -1
        return size if size > 0 else None

    def _top_k(self, signature: str, inputs: dict[str, list], k: int) -> list[tuple[str, float]]:
        available = self.top_k_size(signature)
        if not isinstance(k, int) or k < 1 or (available is not None and k > available):
            limit = f"between 1 and {available}" if available else "at least 1"
            raise AvrecError(f"k must be {limit} (model '{self.model_name}' returns its top {available} from "
                             f"signature '{signature}'), got {k}")
        outputs = self.predict(inputs, signature)
        return [(item, float(score)) for item, score in zip(outputs["item_ids"][0][:k], outputs["scores"][0][:k])]

    def __enter__(self):
        return self

    def __exit__(self, *_) -> None:
        self.close()


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
        (name,) = self.signature_def(signature or DEFAULT_SIGNATURE)["outputs"]
        return {name: outputs}

    def status(self) -> dict:
        return self._request("GET", self._model_url)

    def metadata(self) -> dict:
        return self._request("GET", f"{self._model_url}/metadata")

    def close(self) -> None:
        self._session.close()


def connect(url: str, model_name: str, timeout: float = 10.0) -> ServingClient:
    """A client for `url`: http(s)://HOST:PORT for REST, grpc://HOST:PORT for gRPC."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return RestClient(url, model_name, timeout)
    if parts.scheme == "grpc" and parts.netloc:
        from avrec.serving.grpc_client import GrpcClient  # imports TensorFlow: only when gRPC is asked for

        return GrpcClient(parts.netloc, model_name, timeout)
    raise AvrecError(f"server URL must look like http://HOST:8501 (REST) or grpc://HOST:8500 (gRPC), got {url!r}")
