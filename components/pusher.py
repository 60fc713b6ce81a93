"""TFX's Pusher to a TF Serving model base path, which pushes a model only when it is not already being served.

A rerun on unchanged inputs reuses the trained model from the cache while the Evaluator runs again (it now has a
baseline), so the stock Pusher would copy a byte-identical model into a new version directory on every run. This one
compares the model with the newest version first and records that version as the push instead.
"""
from __future__ import annotations

import hashlib
import os

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


class Executor(executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if self.CheckBlessing(input_dict) and destination.WhichOneof("destination") == "filesystem":
            existing = served_copy(self.GetModelPath(input_dict), destination.filesystem.base_directory)
            if existing is not None:
                model_push = artifact_utils.get_single_instance(
                    output_dict[standard_component_specs.PUSHED_MODEL_KEY])
                logging.info("The model is already served as %s; nothing to push.", existing)
                self._MarkPushed(model_push, pushed_destination=existing, pushed_version=os.path.basename(existing))
                return
        super().Do(input_dict, output_dict, exec_properties)


class ModelPusher(component.Pusher):
    """Pusher(model, model_blessing, push_destination, custom_config); custom_config carries the code fingerprint."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
