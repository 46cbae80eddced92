# Set-up and everyday commands. Every target creates .venv first if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: install train test benchmark sweep report tensorboard lock clean evaluate predict reproduce

install: $(VENV)/.installed

# Re-installs when the pinned versions or the project metadata change.
$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

train: install
	$(PY) scripts/train.py $(ARGS)

# Score a finished run on a fresh test set: make evaluate RUN=outputs/default/<date_time>
evaluate: install
	@test -n "$(RUN)" || { echo "error: RUN is not set; use make evaluate RUN=<run folder>, e.g. RUN=outputs/default/2026-12-04_19-49-50" >&2; exit 2; }
	$(PY) scripts/evaluate.py run=$(RUN) $(ARGS)

# Predict with a finished run: make predict RUN=<run folder> ARGS="'sequence=[3,14,15,92,65,35,89,79,32,38]'"
predict: install
	@test -n "$(RUN)" || { echo "error: RUN is not set; use make predict RUN=<run folder>, e.g. RUN=outputs/default/2026-12-04_19-49-50" >&2; exit 2; }
	$(PY) scripts/predict.py run=$(RUN) $(ARGS)

test: install
	$(PY) -m pytest $(ARGS)

# Measures speed and memory reach (about 5 minutes on 2 CPU cores, at most 20) and
# rewrites docs/benchmarks.md. One torch thread keeps the numbers steady on a
# shared machine. ARGS="--quick" is a smoke run that writes outputs/benchmarks-quick.md.
benchmark: install
	$(PY) scripts/benchmark.py --torch-threads 1 $(ARGS)

# The memory grid (hidden_size x seq_length), two runs at a time on 2 cores.
sweep: install
	$(PY) scripts/train.py -m experiment=memory_sweep $(ARGS)

# Table, results.csv and accuracy.png of the newest sweep, or of ARGS=<sweep folder>.
report: install
	$(PY) scripts/report.py $(ARGS)

tensorboard: install
	$(VENV)/bin/tensorboard --logdir outputs --host 127.0.0.1 $(ARGS)

# Re-runs a finished run from its saved config into outputs/reproduce/ and compares the results.
reproduce: install
	@test -n "$(RUN)" || { echo "error: RUN is not set; use make reproduce RUN=<run folder>, e.g. RUN=outputs/default/2026-12-04_19-49-50" >&2; exit 2; }
	$(PY) scripts/reproduce.py $(RUN) $(ARGS)

# Rewrites requirements.lock from the newest releases that fit pyproject.toml.
# torch stays at the CPU build pinned here; change it in this line on purpose.
# --all keeps setuptools, which torch and tensorboard require at run time.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet torch==2.13.0 -e '.[sweep,test]'
	{ echo "# Exact versions for make and CI. Refresh with: make lock (see README)."; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v '^pip==' | sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/'; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) outputs
