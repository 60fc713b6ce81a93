"""A monitored run keeps its temporary files under its output directory and removes them, failed or not."""
import os
import tempfile

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import pytest
from tfx import v1 as tfx

from avrec.pipeline.monitor import SCRATCH_DIR, metadata_connection, run_monitored


def _recording(seen: dict):
    do = tfx.components.CsvExampleGen.EXECUTOR_SPEC.executor_class.Do

    def recorded(self, *args, **kwargs):
        seen.update(temp=tempfile.mkdtemp(), hub_cache=os.environ.get("TFHUB_CACHE_DIR"))
        return do(self, *args, **kwargs)
    return recorded


def _run(tmp_path, data):
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="scratch", pipeline_root=str(tmp_path / "out" / "pipeline"),
        components=[tfx.components.CsvExampleGen(input_base=str(data))],
        metadata_connection_config=metadata_connection(tmp_path / "out" / "metadata.sqlite"),
        beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    with open(tmp_path / "progress.txt", "w") as stream:
        run_monitored(tfx.orchestration.LocalDagRunner(), pipeline, tmp_path / "out" / "metadata.sqlite", stream)


@pytest.fixture
def system_temp(tmp_path, monkeypatch):
    """A temp directory of its own stands for the system's, to see what a run leaves there."""
    directory = tmp_path / "system-temp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def test_a_run_leaves_no_temporary_files(tmp_path, system_temp, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("user,item\nu,a\nv,b\n")
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    seen = {}
    monkeypatch.setattr(tfx.components.CsvExampleGen.EXECUTOR_SPEC.executor_class, "Do", _recording(seen))
    _run(tmp_path, data)
    assert seen["temp"].startswith(str(tmp_path / "out" / SCRATCH_DIR))
    assert seen["hub_cache"] == str(system_temp / "tfhub_modules")  # TF-Hub's downloads outlive the run
    assert "TFHUB_CACHE_DIR" not in os.environ
    assert list(system_temp.iterdir()) == []  # TFX's package of itself for the Beam step was built in the scratch
    assert not (tmp_path / "out" / SCRATCH_DIR).exists()
    assert tempfile.gettempdir() == str(system_temp)
    assert (tmp_path / "out" / "pipeline" / "CsvExampleGen").is_dir()


def test_a_failed_run_leaves_none_either(tmp_path, system_temp):
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("user,item\nu,a,extra\n")
    with pytest.raises(Exception):
        _run(tmp_path, data)
    assert list(system_temp.iterdir()) == []
    assert not (tmp_path / "out" / SCRATCH_DIR).exists()
    assert tempfile.gettempdir() == str(system_temp)
