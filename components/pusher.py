"""TFX's Pusher to a TF Serving model base path, which pushes a model only when it is not already being served, and
keeps the newest `keep_versions` versions.

A rerun on unchanged inputs reuses the trained model from the cache while the Evaluator runs again (it now has a
baseline), so the stock Pusher would copy a byte-identical model into a new version directory on every run. This one
compares the model with the newest version first and records that version as the push instead. After a push, older
versions beyond `keep_versions` are deleted, but never the one that was newest before it: servers keep serving that
until the new one has loaded.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil

from absl import logging
from tfx.components.pusher import component, executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from avrec import versions


def _tree_digest(root: str) -> str | None:
    """Digest of every file's relative path and bytes under `root`; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        for folder, directories, files in os.walk(root):
            directories.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def served_copy(model_path: str, base_directory: str) -> str | None:
    """The newest version directory under base_directory when it holds exactly this model, else None."""
    newest = versions.saved_model_versions(base_directory)
    if not newest:
        return None
    _, path = newest[0]
    return str(path) if _tree_digest(str(path)) == _tree_digest(model_path) else None


def prune(base_directory: str, keep: int, serving: str | None) -> list[str]:
    """Deletes the version directories beyond the newest `keep`, never `serving`; returns what it deleted."""
    deleted = []
    for _, path in versions.scan(base_directory).versions[keep:]:
        if str(path) != serving:
            shutil.rmtree(path, ignore_errors=True)
            deleted.append(str(path))
    return deleted


class Executor(executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if not (self.CheckBlessing(input_dict) and destination.WhichOneof("destination") == "filesystem"):
            return super().Do(input_dict, output_dict, exec_properties)
        base = destination.filesystem.base_directory
        existing = served_copy(self.GetModelPath(input_dict), base)
        if existing is not None:
            model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
            logging.info("The model is already served as %s; nothing to push.", existing)
            self._MarkPushed(model_push, pushed_destination=existing, pushed_version=os.path.basename(existing))
            return None
        served = versions.saved_model_versions(base)
        super().Do(input_dict, output_dict, exec_properties)
        keep = json.loads(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "{}").get(
            "keep_versions", 0)
        if keep:
            prune(base, keep, str(served[0][1]) if served else None)
        return None


class ModelPusher(component.Pusher):
    """Pusher(model, model_blessing, push_destination, custom_config); custom_config carries the code fingerprint
    and `keep_versions`."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
