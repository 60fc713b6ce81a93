"""A run's results come from that run's executions only, not from the newest artifacts in the store."""
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from avrec.pipeline.results import NODE, PIPELINE_RUN, outputs_of_run, pipeline_run_ids


def _store(tmp_path) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "metadata.sqlite")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def _context(store, type_name: str, name: str) -> metadata_store_pb2.Context:
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name=type_name))
    existing = store.get_context_by_type_and_name(type_name, name)
    if existing is not None:
        return existing
    [context_id] = store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=name)])
    return store.get_contexts_by_id([context_id])[0]


def _run(store, name: str, node: str, outputs: dict[str, object]) -> int:
    """A pipeline run with one execution of `node` outputting {key: uri, or an artifact it reuses}."""
    run = _context(store, PIPELINE_RUN, name)
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Component"))
    type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="Examples"))
    pairs = []
    for key, value in outputs.items():
        artifact = value if isinstance(value, metadata_store_pb2.Artifact) else metadata_store_pb2.Artifact(
            type_id=type_id, uri=value)
        event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
        event.path.steps.add().key = key
        pairs.append((artifact, event))
    store.put_execution(metadata_store_pb2.Execution(type_id=execution_type), pairs,
                        [run, _context(store, NODE, f"avrec.{node}")])
    return run.id


def test_outputs_are_those_of_the_run_asked_for(tmp_path):
    store = _store(tmp_path)
    first = _run(store, "run-1", "ModelPusher", {"pushed_model": "/push/1"})
    second = _run(store, "run-2", "Evaluator", {"evaluation": "/eval/2"})
    assert pipeline_run_ids(store) == {first, second}
    assert {key: [a.uri for a in found] for key, found in outputs_of_run(store, first).items()} == {
        ("ModelPusher", "pushed_model"): ["/push/1"]}
    # The newer run pushed nothing: it must not report the first run's push as its own.
    assert {key: [a.uri for a in found] for key, found in outputs_of_run(store, second).items()} == {
        ("Evaluator", "evaluation"): ["/eval/2"]}


def test_outputs_are_told_apart_by_node_and_key_and_reused_artifacts_count(tmp_path):
    store = _store(tmp_path)
    first = _run(store, "run-1", "TimeSplit", {"examples": "/split/1", "window": "/window/1"})
    reused = outputs_of_run(store, first)[("TimeSplit", "examples")][0]
    second = _run(store, "run-2", "TimeSplit", {"examples": reused, "window": "/window/2"})
    found = outputs_of_run(store, second)
    assert found[("TimeSplit", "examples")][0].uri == "/split/1" and found[("TimeSplit", "window")][0].uri == \
        "/window/2"
