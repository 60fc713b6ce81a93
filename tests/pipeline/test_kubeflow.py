"""The pipeline compiled for Kubeflow Pipelines 2 / Vertex AI: a PipelineSpec whose tasks are the DAG's components,
each container running the avrec image."""
import json
import subprocess
import sys

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from avrec.config import RunConfig
from avrec.pipeline.pipeline import create_pipeline


def test_compiled_spec_parses_and_every_component_is_a_task_on_the_image(tmp_path):
    result = subprocess.run([sys.executable, "-m", "avrec.cli", "compile", "--runner", "kubeflow", "--output",
                             str(tmp_path), "--data", "/gcs/bucket/spans", "--spans", "--image",
                             "europe-docker.pkg.dev/p/avrec/avrec:1.0", "--pipeline-root", "gs://bucket/root",
                             "--task-output", "/gcs/bucket/avrec"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    job = json.loads((tmp_path / "pipeline.json").read_text())
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    tasks = set(spec.root.dag.tasks)
    components = {component.id for component in create_pipeline(RunConfig(), str(tmp_path), spans=True).components}
    # The latest-blessed-model resolver compiles to two queries; every other node is one task of its own name.
    assert tasks == (components - {"LatestBlessedModelResolver"}) | {
        "LatestBlessedModelResolver-model-resolver", "LatestBlessedModelResolver-model-blessing-resolver"}
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    containers = {name: executor["container"] for name, executor in executors.items() if "container" in executor}
    assert containers and all(c["image"] == "europe-docker.pkg.dev/p/avrec/avrec:1.0" for c in containers.values())
    resolvers = set(executors) - set(containers)
    assert resolvers == {f"{name}_executor" for name in tasks if "Resolver" in name}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
    # The tasks read the schemas and data where the image and the mounted volume hold them.
    text = (tmp_path / "pipeline.json").read_text()
    assert "/app/schemas/events.pbtxt" in text and "/gcs/bucket/spans" in text and "span-{SPAN}" in text
