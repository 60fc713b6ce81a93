"""The typed configuration: bad values and types are refused with the field named; defaults feed the CLI."""
import pytest

from avrec.cli import build_parser
from avrec.config import (ConfigError, DataConfig, EncoderConfig, ModelConfig, PipelineConfig, QueryConfig,
                          ServingConfig, default)


@pytest.mark.parametrize("section,values,field", [
    (ModelConfig, {"epochs": 0}, "epochs"),
    (ModelConfig, {"epochs": "3"}, "ModelConfig.epochs must be int"),
    (ModelConfig, {"content": 1}, "ModelConfig.content must be bool"),
    (ModelConfig, {"temperature": True}, "ModelConfig.temperature must be float"),
    (ModelConfig, {"fusion": "sum"}, "fusion"),
    (ModelConfig, {"plateau_lr_factor": 0.0}, r"plateau_lr_factor must be in \(0, 1\], got 0.0"),
    (EncoderConfig, {"frames_per_video": 0}, "frames_per_video"),
    (EncoderConfig, {"audio": 3}, "EncoderConfig.audio must be str"),
    (ServingConfig, {"rest_port": 70000}, "rest_port"),
    (QueryConfig, {"k": 0}, "k must be >= 1"),
    (DataConfig, {"cold_item_fraction": 1.0}, "cold_item_fraction"),
    (PipelineConfig, {"group_events": -1}, "group_events must be >= 0"),
])
def test_a_bad_value_names_its_field(section, values, field):
    with pytest.raises(ConfigError, match=field):
        section(**values)


def test_json_round_trip_and_unknown_keys():
    encoders = EncoderConfig(text_encoder="https://tfhub.dev/x/1", frames_per_video=3)
    assert EncoderConfig.from_json(encoders.to_json()) == encoders
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['colour'\]"):
        EncoderConfig.from_json('{"colour": "red"}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        EncoderConfig.from_json("{")


def test_empty_handles_resolve_to_the_local_build(tmp_path):
    resolved = EncoderConfig(audio="/elsewhere/musicnn").resolved(tmp_path)
    assert resolved.audio == "/elsewhere/musicnn"
    assert resolved.text_encoder == str(tmp_path / "minilm_l6_h384_encoder")


def test_cli_defaults_are_the_config_defaults():
    run = build_parser().parse_args(["run"])
    assert (run.holdout_last, run.epochs, run.max_bad_fraction, run.output, run.fusion) == (
        default(DataConfig, "holdout_last"), default(ModelConfig, "epochs"), default(DataConfig, "max_bad_fraction"),
        "output", default(ModelConfig, "fusion"))
    serve = build_parser().parse_args(["serve", "--model-base-path", "x"])
    assert (serve.host, serve.rest_port, serve.poll_seconds) == ("127.0.0.1", 8501, 1.0)
    assert build_parser().parse_args(["similar", "--item", "1"]).k == default(QueryConfig, "k")


def test_tune_and_pretrain_flags_reach_the_run_config():
    from avrec.cli.run import config_from_args

    plain = config_from_args(build_parser().parse_args(["run"]))
    assert plain.tune.trials == 0 and plain.model.pretrain_epochs == 0 and plain.model.user_tower == "attention"
    tuned = config_from_args(build_parser().parse_args(
        ["run", "--tune", "--tune-trials", "3", "--tune-algorithm", "hyperband", "--pretrain", "--user-tower", "mean"]))
    assert (tuned.tune.trials, tuned.tune.algorithm, tuned.model.pretrain_epochs, tuned.model.user_tower) == (
        3, "hyperband", 3, "mean")
    assert config_from_args(build_parser().parse_args(["run", "--pretrain", "5"])).model.pretrain_epochs == 5
    assert plain.model.every_position and not config_from_args(
        build_parser().parse_args(["run", "--per-example"])).model.every_position
    with pytest.raises(ConfigError, match="trials"):
        config_from_args(build_parser().parse_args(["run", "--tune", "--tune-trials", "-1"]))


def test_the_content_paths_warm_bound_is_a_run_option():
    from avrec.cli.run import config_from_args

    assert config_from_args(build_parser().parse_args(["run"])).model.content_path_max_warm_drop == default(
        ModelConfig, "content_path_max_warm_drop")
    assert config_from_args(build_parser().parse_args(
        ["run", "--max-warm-drop", "0.05"])).model.content_path_max_warm_drop == 0.05
    with pytest.raises(ConfigError, match="content_path_max_warm_drop"):
        config_from_args(build_parser().parse_args(["run", "--max-warm-drop", "1.5"]))


def test_user_shards_are_a_run_option():
    from avrec.cli.run import config_from_args

    assert config_from_args(build_parser().parse_args(["run"])).pipeline.group_events == default(
        PipelineConfig, "group_events")
    spilling = config_from_args(build_parser().parse_args([
        "compile", "--runner", "kubeflow", "--output", "x", "--pipeline-root", "gs://b/root", "--task-output",
        "gs://b/out", "--group-events", "0"]), runner="kubeflow")
    assert spilling.pipeline.group_events == 0


def test_any_field_can_be_set_from_the_command_line():
    from avrec.cli.run import config_from_args

    def configured(*settings):
        return config_from_args(build_parser().parse_args(["run", *[f"--set={s}" for s in settings]]))

    config = configured("model.embedding_dim=128", "model.logq_correction=false", "data.max_history=20",
                        "eval.baselines=popularity, ease", "model.temperature=0.5")
    assert (config.model.embedding_dim, config.model.logq_correction, config.data.max_history,
            config.eval.baselines, config.model.temperature) == (128, False, 20, ("popularity", "ease"), 0.5)
    assert config.model.patience == default(ModelConfig, "patience")
    later = config_from_args(build_parser().parse_args(["run", "--epochs", "3", "--set", "model.epochs=7"]))
    assert later.model.epochs == 7  # applied after the other options
    for setting, message in [("model.embedding_dim", "expected SECTION.FIELD=VALUE"),
                             ("modle.epochs=3", "no section 'modle'; sections: data, encoders, eval"),
                             ("model.embeding_dim=3", "model has no field 'embeding_dim'; fields: alpha"),
                             ("model.embedding_dim=big", "model.embedding_dim must be int, got 'big'"),
                             ("model.content=maybe", "model.content must be bool"),
                             ("model.embedding_dim=0", "embedding_dim must be >= 1, got 0"),
                             ("eval.baselines=popularity,nope", r"unknown baseline\(s\) \['nope'\]"),
                             ("pipeline.runner=kubeflow", "not a setting; use --runner")]:
        with pytest.raises(ConfigError, match=message):
            configured(setting)
