"""A component's code fingerprint sees every avrec module it imports, and nothing else."""
from pathlib import Path

from avrec.fingerprint import code_fingerprint, module_closure

BASELINES, GATE = "avrec.components.score_baselines", "avrec.components.anomaly_gate"


def test_the_closure_follows_imports_transitively():
    closure = module_closure(BASELINES)
    assert {"avrec.models.metrics", "avrec.models.baselines.itemknn", "avrec.data.examples"} <= set(closure)
    assert not any(name.startswith(("avrec.serving", "avrec.pipeline", "avrec.cli")) for name in closure)


def test_an_edit_of_the_metric_code_changes_the_baselines_key_but_not_the_gates(monkeypatch):
    before = {name: code_fingerprint(name) for name in (BASELINES, GATE)}
    metrics = module_closure(BASELINES)["avrec.models.metrics"]
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes",
                        lambda path: read_bytes(path) + (b"\n# an edit\n" if path == metrics else b""))
    after = {name: code_fingerprint(name) for name in (BASELINES, GATE)}
    assert after[BASELINES] != before[BASELINES]
    assert after[GATE] == before[GATE]
