"""A client that runs a pushed model in this process, through the same Servable the server uses: `avrec recommend
--model DIR` and friends answer exactly what a server on DIR would."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from avrec import versions
from avrec.errors import ModelNotFoundError
from avrec.serving.client import ServingClient, ServingRequestError
from avrec.serving.protocol import ServingError, metadata_json


def _decoded(array: np.ndarray):
    if array.dtype.kind in "OS":
        return np.frompyfunc(lambda value: value.decode("utf-8", "replace"), 1, 1)(array).tolist()
    return array.tolist()


def loadable_versions(path: str | Path) -> list[tuple[int | None, Path]]:
    """The SavedModel at `path` itself, or the versions under `path` as a model base path, newest first."""
    path = Path(path)
    if versions.is_saved_model(path):
        return [(versions.version_number(path.name), path)]
    found = versions.saved_model_versions(path)
    if not found:
        raise ModelNotFoundError(f"no pushed model version under {path} (run `avrec run` first, or pass --model)")
    return found


class LocalClient(ServingClient):
    def __init__(self, path: str | Path, model_name: str, warn=print):
        from avrec.serving.servable import Servable, load_failure  # imports TensorFlow

        super().__init__(str(path), model_name)
        failures = []
        for version, candidate in loadable_versions(path):
            try:
                self._servable = Servable(model_name, version or 0, candidate, warm_up=False)
            except Exception as error:  # noqa: BLE001  (a version that cannot load: fall back to an older one)
                failures.append(str(load_failure(candidate, error))[:300])
                continue
            if failures:
                warn(f"warning: {'; '.join(failures)}; using {candidate}")
            self.path = candidate
            return
        raise ModelNotFoundError(f"no loadable model under {path}: {'; '.join(failures)}")

    def predict(self, inputs: dict[str, list], signature: str = "") -> dict[str, list]:
        function = self._servable.signature(signature)
        arrays = {}
        for name, value in inputs.items():
            dtype = function.input_dtype(name)
            arrays[name] = np.array(value, dtype=object if dtype.name == "string" else dtype.as_numpy_dtype)
        try:
            outputs = function.run(arrays)
        except ServingError as error:
            raise ServingRequestError(f"the model at {self.path} refused the request: {error.message}") from None
        return {name: _decoded(array) for name, array in outputs.items()}

    def metadata(self) -> dict:
        return metadata_json(self._servable.metadata())

    def status(self) -> dict:
        return {"model_version_status": [{"version": str(self._servable.version), "state": "AVAILABLE"}]}

    def close(self) -> None:
        self._servable = None
