"""What every client of an avrec model shares: the recommender calls (recommend, similar, search, titles) on top
of TF Serving's predict and metadata, whichever transport carries them (rest_client, grpc_client, local_client).

`k` is the caller's: the model returns its top K (fixed at export, read from the metadata) and the client keeps the
first k, refusing k > K.
"""
from __future__ import annotations

from avrec import contract
from avrec.errors import AvrecError


class ServingRequestError(AvrecError):
    """The server answered with an error, or could not be reached; `code` is the HTTP status or gRPC code name."""

    def __init__(self, message: str, code: int | str | None = None):
        super().__init__(message)
        self.code = code


def _padded(items) -> list[str]:
    """A list row as the contract expects it: ids as strings, and one padding value for an empty list."""
    return [str(item) for item in items] or [contract.PADDING]


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
        inputs = {contract.USER_ID: [str(user_id)], contract.HISTORY: [_padded(history)]}
        signature = contract.SERVING_DEFAULT
        if exclude:
            inputs[contract.EXCLUDE] = [_padded(exclude)]
            signature = contract.RECOMMEND
        return self._top_k(signature, inputs, k)

    def similar(self, item_id: str, k: int = 10) -> list[tuple[str, float]]:
        """Top-k (item id, score) most similar to an item, the item itself excluded."""
        return self._top_k(contract.SIMILAR_ITEMS, {contract.ITEM_ID: [str(item_id)]}, k)

    def check_search(self) -> None:
        """Refuses a model without text search (trained without content embeddings) before a query is encoded."""
        if contract.SEARCH_BY_EMBEDDING not in self._signature_defs():
            raise AvrecError(f"model '{self.model_name}' at {self.url} has no text search: it was trained without "
                             "content embeddings")

    def search(self, query_embedding: list[float], k: int = 10) -> list[tuple[str, float]]:
        """Top-k (item id, score) whose pretrained text embedding is closest to an encoded free-text query."""
        self.check_search()
        return self._top_k(contract.SEARCH_BY_EMBEDDING, {contract.QUERY_EMBEDDING: [list(query_embedding)]}, k)

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
        if contract.ITEM_TITLES not in self._signature_defs() or not item_ids:
            return None
        return self.predict({contract.ITEM_ID: list(item_ids)}, contract.ITEM_TITLES)[contract.TITLE]

    def top_k_size(self, signature: str) -> int | None:
        """K of a signature's item_ids output [batch, K] (None if the model leaves it open)."""
        outputs = self.signature_def(signature)["outputs"]
        dims = outputs.get(contract.ITEM_IDS, {}).get("tensor_shape", {}).get("dim", [])
        size = int(dims[1]["size"]) if len(dims) == 2 else -1
        return size if size > 0 else None

    def _top_k(self, signature: str, inputs: dict[str, list], k: int) -> list[tuple[str, float]]:
        available = self.top_k_size(signature)
        if not isinstance(k, int) or k < 1 or (available is not None and k > available):
            limit = f"between 1 and {available}" if available else "at least 1"
            raise AvrecError(f"k must be {limit} (model '{self.model_name}' returns its top {available} from "
                             f"signature '{signature}'), got {k}")
        outputs = self.predict(inputs, signature)
        return [(item, float(score))
                for item, score in zip(outputs[contract.ITEM_IDS][0][:k], outputs[contract.SCORES][0][:k])]

    def __enter__(self):
        return self

    def __exit__(self, *_) -> None:
        self.close()
