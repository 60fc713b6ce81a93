"""What a cached pipeline step must know about the code it runs.

TFX names a component's code by import path, so its cache would serve results computed by older code. Every avrec
component therefore carries `code_fingerprint(module)` among its parameters: a digest of that module's source and of
every avrec module it imports, directly or not, read statically (lazy imports inside functions included). An edit
of the metric code changes the Baselines' and the Evaluator's keys; an edit of the server changes neither.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from pathlib import Path

ROOT_PACKAGE = "avrec"


@functools.lru_cache(maxsize=None)
def _source(module: str) -> tuple[Path, bool] | None:
    """(file, is_package) of an avrec module, or None when `module` is not one (e.g. an attribute's name)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin), spec.submodule_search_locations is not None


def _imports(module: str, path: Path, is_package: bool) -> set[str]:
    """avrec modules named by the import statements of one file (and their parent packages)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: None if is_package else -1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            found.update(_modules_along(name))
    return found


def _modules_along(name: str) -> list[str]:
    """The avrec modules a dotted import name passes through: 'avrec.models.metrics.ranking_metrics' gives avrec,
    avrec.models and avrec.models.metrics. Only packages are looked into, so no module is imported to find out."""
    parts = name.split(".")
    if parts[0] != ROOT_PACKAGE:
        return []
    modules = []
    for end in range(1, len(parts) + 1):
        source = _source(".".join(parts[:end]))
        if source is None:
            break
        modules.append(".".join(parts[:end]))
        if not source[1]:
            break
    return modules


def module_closure(*modules: str) -> dict[str, Path]:
    """Every avrec module these import, transitively, with its file."""
    closure: dict[str, Path] = {}
    pending = list(modules)
    while pending:
        module = pending.pop()
        if module in closure:
            continue
        source = _source(module)
        if source is None:
            continue
        closure[module] = source[0]
        pending.extend(_imports(module, *source) - set(closure))
        pending.extend(_modules_along(module))
    return closure


def code_fingerprint(*modules: str) -> str:
    digest = hashlib.sha256()
    for module, path in sorted(module_closure(*modules).items()):
        digest.update(module.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
