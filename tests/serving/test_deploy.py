"""The deployment files serve the pushed directory with the official TF Serving image, every flag explicit."""
from __future__ import annotations

from pathlib import Path

import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.support.serving import MODEL

DEPLOY = Path(__file__).resolve().parents[2] / "serving" / "deploy"

def test_deployment_files_serve_the_pushed_directory_with_the_official_image():
    config = text_format.Parse((DEPLOY / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (MODEL, f"/models/{MODEL}", "tensorflow")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]["tf-serving"]
    assert compose["image"].startswith("tensorflow/serving:")
    flags = ["--port=8500", "--rest_api_port=8501", "--model_config_file=/config/models.config"]
    assert compose["entrypoint"] == ["/usr/bin/tensorflow_model_server"] and set(flags) <= set(compose["command"])
    assert sorted(compose["ports"]) == ["0.0.0.0:8500:8500", "0.0.0.0:8501:8501"]  # every interface, explicitly
    assert any(volume.endswith(":/models:ro") for volume in compose["volumes"])
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())}
    container = documents["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == compose["image"]
    assert (container["command"], container["args"]) == (compose["entrypoint"], compose["command"])
    assert container["readinessProbe"]["httpGet"]["path"] == f"/v1/models/{MODEL}"
    assert {port["containerPort"] for port in container["ports"]} == {8500, 8501}
    assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/models", "/config"}
    assert {port["port"] for port in documents["Service"]["spec"]["ports"]} == {8500, 8501}
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert kustomization["configMapGenerator"][0]["files"] == ["models.config"]
