# pywsgi-embed: `make run` serves the example app on nginx, `make test` runs
# every test against real nginx and Apache.  Each target installs what it
# needs first (Debian packages, a venv with the Python packages), so both
# work on a fresh Debian bookworm machine; repeated runs install nothing.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST ?= -q

.PHONY: all deps venv build test lint test-asan test-docker run bench clean

all: build

deps:
	sh tools/install-deps.sh

$(PY):
	$(PYTHON) -m venv $(VENV)

venv: $(PY) requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# The gateway library and both modules, in place (pip install -e .)
build: deps venv
	$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation -e .

test: build
	$(PY) -m pytest $(PYTEST) tests --ignore=tests/docker

# The quality gates (CI runs them): ruff's lint and format check over the
# Python tree, shellcheck over the shell scripts, and the gateway library and
# the Apache module compiled with warnings as errors into build/lint (the
# nginx module's own build already uses -Werror).
SHELL_SCRIPTS := .ci/run tools/install-deps.sh nginx-module/build.sh \
                 nginx-module/config apache-module/build.sh docker/*.sh
GATEWAY_FILE   = $(shell $(PY) -c 'import sysconfig; \
                   print("_gateway" + sysconfig.get_config_var("EXT_SUFFIX"))')

lint: deps venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	shellcheck $(SHELL_SCRIPTS)
	PYWSGI_WERROR=1 $(PY) -m pywsgi_embed._build --lint
	PYWSGI_WERROR=1 bash apache-module/build.sh build/lint/modules \
	    $(GATEWAY_FILE) build/lint/apache

# The gateway and both modules built with -fsanitize=address,undefined into
# build/asan (the normal build stays), the HTTP suite on both servers
# loading them; a sanitizer report fails it (tools/test-asan.sh)
test-asan: build
	sh tools/install-deps.sh libasan8 libubsan1
	sh tools/test-asan.sh $(PYTEST) tests/http \
	    tests/faults/test_worker_exit.py tests/faults/test_uploads.py

# The HTTP suite against containers of docker/Dockerfile.* (built here,
# host networking only); starts an engine if none answers.
test-docker: venv
	sh tools/install-deps.sh docker.io docker-compose mmdebstrap gpgv
	$(PY) -m pytest $(PYTEST) --docker tests/http tests/docker

# make run PORT=8080 SERVER=apache APP=myapp.py
PORT   ?= 8000
SERVER ?= nginx
APP    ?= examples/hello.py

run: build
	$(VENV)/bin/pywsgi-embed serve $(APP) --server $(SERVER) --port $(PORT)

bench: build
	sh tools/install-deps.sh libapache2-mod-wsgi-py3 libev-dev valgrind
	$(PY) bench/gateway_overhead.py
	$(PY) bench/nginx_bench.py
	$(PY) bench/nginx_profile.py
	$(PY) bench/apache_bench.py
	$(PY) bench/apache_profile.py
	$(PY) bench/concurrency_bench.py
	$(PY) bench/soak.py
	$(PY) bench/peers_bench.py

clean:
	rm -rf build pywsgi_embed/modules pywsgi_embed/_gateway*.so \
	    pywsgi_embed/pywsgi-check *.egg-info
