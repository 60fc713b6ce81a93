"""Stops the pipeline before Transform when ExampleValidator found anomalies.

ExampleValidator only records anomalies; training on data that breaks the curated schema would silently produce a
bad model, so this gate turns them into a failure whose message names each feature and what is wrong with it.
"""

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils, standard_artifacts

from avrec.errors import ValidationError

ANOMALIES_FILE = "SchemaDiff.pb"


def describe_anomalies(anomalies_by_split: dict[str, anomalies_pb2.Anomalies]) -> list[str]:
    problems = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            reasons = "; ".join(reason.description or reason.short_description for reason in info.reason)
            problems.append(f"split '{split}', column '{feature}': {info.short_description}: {reasons}")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            problems.append(f"split '{split}', whole dataset: {info.short_description}")
    return problems


def read_anomalies(artifact) -> dict[str, anomalies_pb2.Anomalies]:
    result = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        anomalies = anomalies_pb2.Anomalies()
        path = os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE)
        with open(path, "rb") as handle:
            anomalies.ParseFromString(handle.read())
        result[split] = anomalies
    return result


@tfx.dsl.components.component
def AnomalyGate(anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
                code: tfx.dsl.components.Parameter[str]) -> None:
    """code: the fingerprint of this code (part of the cache key)."""
    del code
    problems = describe_anomalies(read_anomalies(anomalies))
    if problems:
        raise ValidationError("data validation found anomalies against schemas/events.pbtxt, so the span was not "
                              "split or trained on:\n  " + "\n  ".join(problems))
