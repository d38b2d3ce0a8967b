# lstm-forecast: `make demo` and `make test` work on a fresh machine with Python 3.11 and pip.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# torch is installed first, so that the package's `torch` requirement is already met.
# TORCH_INDEX=https://download.pytorch.org/whl/cpu picks PyTorch's CPU-only build elsewhere.
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
DEMO := out/demo

.PHONY: install demo test test-fast lint format bench bench-install clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || \
		$(PY) -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e ".[dev]"
	# An editable install compiles nothing, and with PYTHONDONTWRITEBYTECODE set no import
	# writes bytecode either: compiling here saves every `train` about 0.15 s.
	$(PY) -m compileall -q lstm_forecast
	touch $@

demo: install
	mkdir -p $(DEMO)
	$(BIN)/lstm-forecast inspect data/msft.csv
	$(BIN)/lstm-forecast train data/msft.csv --model $(DEMO)/msft.lstm --epochs 15 --seed 0
	$(BIN)/lstm-forecast predict data/msft.csv --model $(DEMO)/msft.lstm | tee $(DEMO)/forecast.csv

test: install
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Darts and NeuralForecast for the speed comparison; not part of `make install` or CI.
bench-install: install
	$(PY) -m pip install -q -e ".[bench]"

bench: install
	$(PY) bench/train_speed.py
	$(PY) bench/predict_startup.py

clean:
	rm -rf out .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
