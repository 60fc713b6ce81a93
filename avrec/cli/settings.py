"""`--set SECTION.FIELD=VALUE`: any field of the run's configuration (avrec.config) from the command line, for the
settings that have no option of their own. The text is read as the field's type; the configuration then validates
the value as it validates every other, so a bad one fails before any work starts. A tuple is given comma-separated
and replaces the whole value. The runner is chosen by the command (`--runner`, `avrec compile`), not set."""
from __future__ import annotations

import argparse
import dataclasses

from avrec.config import ConfigError, RunConfig

_CHOSEN_BY_COMMAND = {"pipeline.runner": "--runner (run) or avrec compile --runner kubeflow"}
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_READERS = {"int": int, "float": float, "str": str, "bool": lambda text: _BOOLEANS[text.lower()],
            "tuple": lambda text: tuple(part.strip() for part in text.split(",") if part.strip())}


def add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], dest="settings", metavar="SECTION.FIELD=VALUE",
                        help="any configuration field (avrec/config.py), e.g. --set model.embedding_dim=128 or "
                             "--set eval.baselines=popularity,ease (a tuple, comma-separated, replaces the whole "
                             "value); applied after the other options, so it wins over them (repeat)")


def with_settings(config: RunConfig, settings: list[str]) -> RunConfig:
    sections = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)
                if dataclasses.is_dataclass(getattr(config, field.name))}
    changes: dict[str, dict] = {}
    for setting in settings:
        name, equals, text = setting.partition("=")
        name = name.strip()
        section, dot, field = name.partition(".")
        if not (equals and dot):
            raise ConfigError(f"--set {setting!r}: expected SECTION.FIELD=VALUE, e.g. model.embedding_dim=128")
        if section not in sections:
            raise ConfigError(f"--set {setting!r}: no section {section!r}; sections: {', '.join(sorted(sections))}")
        if name in _CHOSEN_BY_COMMAND:
            raise ConfigError(f"--set {setting!r}: {name} is not a setting; use {_CHOSEN_BY_COMMAND[name]}")
        fields = {f.name: f.type for f in dataclasses.fields(sections[section])}
        if field not in fields:
            raise ConfigError(f"--set {setting!r}: {section} has no field {field!r}; fields: "
                              f"{', '.join(sorted(fields))}")
        try:
            value = _READERS[fields[field]](text.strip())
        except (KeyError, ValueError):
            raise ConfigError(f"--set {setting!r}: {section}.{field} must be {fields[field]}, got {text!r}") from None
        changes.setdefault(section, {})[field] = value
    return config.replace(**{section: sections[section].replace(**values) for section, values in changes.items()})
