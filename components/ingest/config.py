"""How the ingestion components receive the run's DataConfig and code fingerprint: ExampleGen's custom_config is an
Any, so they travel as a Struct inside it."""
from __future__ import annotations

import json

from google.protobuf import any_pb2, struct_pb2
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from avrec.config import DataConfig


def custom_config(data: DataConfig, code: str) -> example_gen_pb2.CustomConfig:
    values = struct_pb2.Struct()
    values.update({"data": data.to_json(), "code": code})
    packed = any_pb2.Any()
    packed.Pack(values)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def data_config(exec_properties: dict) -> DataConfig:
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], config)
    values = struct_pb2.Struct()
    config.custom_config.Unpack(values)
    return DataConfig.from_dict(json.loads(values["data"]))
