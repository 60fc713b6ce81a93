"""A run's results come from that run's executions only, not from the newest artifacts in the store."""
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from avrec.pipeline.results import PIPELINE_RUN, _outputs_of_run, pipeline_run_ids


def _store(tmp_path) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "metadata.sqlite")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def _run(store, name: str, outputs: dict[str, str], cached_from: dict | None = None) -> int:
    """A pipeline run whose one execution outputs new artifacts of the given types (type -> uri), or reuses."""
    run_type = store.put_context_type(metadata_store_pb2.ContextType(name=PIPELINE_RUN))
    [context] = store.put_contexts([metadata_store_pb2.Context(type_id=run_type, name=name)])
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Component"))
    pairs = []
    for type_name, uri in outputs.items():
        type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(name=type_name))
        artifact = (cached_from or {}).get(type_name) or metadata_store_pb2.Artifact(type_id=type_id, uri=uri)
        pairs.append((artifact, metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)))
    store.put_execution(metadata_store_pb2.Execution(type_id=execution_type), pairs,
                        store.get_contexts_by_id([context]))
    return context


def test_outputs_are_those_of_the_run_asked_for(tmp_path):
    store = _store(tmp_path)
    first = _run(store, "run-1", {"ModelEvaluation": "/eval/1", "PushedModel": "/push/1"})
    second = _run(store, "run-2", {"ModelEvaluation": "/eval/2"})
    assert pipeline_run_ids(store) == {first, second}
    assert {name: a.uri for name, a in _outputs_of_run(store, first).items()} == {
        "ModelEvaluation": "/eval/1", "PushedModel": "/push/1"}
    # The newer run pushed nothing: it must not report the first run's push as its own.
    assert {name: a.uri for name, a in _outputs_of_run(store, second).items()} == {"ModelEvaluation": "/eval/2"}


def test_a_cached_execution_reports_the_artifacts_it_reused(tmp_path):
    store = _store(tmp_path)
    first = _run(store, "run-1", {"avrec.BaselineMetrics": "/baselines/1"})
    reused = _outputs_of_run(store, first)
    second = _run(store, "run-2", {"avrec.BaselineMetrics": ""}, cached_from=reused)
    assert _outputs_of_run(store, second)["avrec.BaselineMetrics"].uri == "/baselines/1"
