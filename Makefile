# One entry point for developers and CI. `make test` is what CI runs (.ci/run); `make demo` brings up a
# throwaway seqr host plus S3 store with the role applied.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup lint unit test wheel collection collection-installed wheelhouse molecule-matrix demo demo-destroy igv-tools browser image molecule bench bench-smoke molecule-real-seqr molecule-s3-networks

setup:
	bash scripts/setup.sh

# collection-installed first: Molecule's converge.yml imports seqr_s3.seqr_s3.site, which ansible-lint must find.
lint: setup collection-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ansible-lint --offline

# The role's and fixtures' tests (tests/) and the package's own (python/tests); pytest.ini sets the import paths.
unit: setup
	$(BIN)/pytest -q tests python/tests --ignore=tests/igv

# The wheel the role installs (seqr_s3_package_wheel): dist/seqr_s3-<version>-py3-none-any.whl built from python/.
# playbooks/site.yml builds it the same way when it is not given; the same source gives the same bytes.
wheel: setup
	bash scripts/build-wheel.sh $(BIN)/python

# The artifact operators install: dist/seqr_s3-seqr_s3-<version>.tar.gz, the Ansible collection seqr_s3.seqr_s3
# (role, playbooks site and remove, the wheel inside the role), assembled in a staging folder.
collection: setup
	bash scripts/build-collection.sh $(BIN)/python dist

# A wheelhouse for seqr hosts without a route to PyPI (the role's seqr_s3_pip_wheelhouse): boto3 at the role's
# pinned version and its dependencies, as wheels for the seqr host's Python, in dist/wheelhouse. Set the host's
# Python (pip's --python-version) and platform (pip's --platform):
# `make wheelhouse WHEELHOUSE_PYTHON=3.9` for Debian 11, 3.11 for Debian 12 (default), 3.13 for Debian 13.
# WHEELHOUSE_EXTRA="urllib3==2.6.3" adds versions seqr's virtualenv has that boto3's install would replace (the
# role names them when it refuses a wheelhouse without them): removal puts them back from it.
WHEELHOUSE_PYTHON ?= 3.11
WHEELHOUSE_PLATFORM ?= manylinux2014_x86_64
WHEELHOUSE_EXTRA ?=
wheelhouse: setup
	bash scripts/build-wheelhouse.sh $(BIN)/python dist/wheelhouse $(WHEELHOUSE_PYTHON) $(WHEELHOUSE_PLATFORM) \
	  $(WHEELHOUSE_EXTRA)

# molecule-real-seqr only prints its skip line unless SEQR_SOURCE names a seqr checkout (CI has none).
test: lint unit browser bench-smoke molecule molecule-real-seqr

# The IGV CSS hash tool's Node modules (playwright-core), from the committed lock file; npm ci rewrites the
# hidden lock file, so this reinstalls only when package-lock.json changes.
IGV_TOOLS := scripts/igv_css_hashes
igv-tools: $(IGV_TOOLS)/node_modules/.package-lock.json

$(IGV_TOOLS)/node_modules/.package-lock.json: $(IGV_TOOLS)/package-lock.json
	cd $(IGV_TOOLS) && npm ci --no-audit --no-fund

# igv.js in Debian's headless Chromium: the hash tool and the CSP trials for every version in the role's table,
# and igv.js reading BAM/CRAM from S3 through the stand-in and the role's nginx in every serving mode.
browser: setup igv-tools
	$(BIN)/pytest -q tests/igv

# Molecule's hosts are podman containers booting systemd from locally built Debian images (scripts/build-image.sh):
# the s3 host bookworm, the seqr host DEBIAN_RELEASE (bullseye, bookworm or trixie; default bookworm, what CI
# runs). podman needs runc and lower ulimits here (scripts/containers.conf). The scenario's state (fixtures,
# generated keys) lives in a fixed ephemeral folder so `make demo` can print how to reach what it built.
# Converge and removal run the collection as installed by ansible-galaxy into .cache/collections
# (molecule.yml's ANSIBLE_COLLECTIONS_PATH), not the working tree's role.
# WHEELHOUSE=dist/wheelhouse (after `make wheelhouse`) runs the scenario with the seqr host cut off every package
# index during converge, boto3 coming from that wheelhouse.
DEBIAN_RELEASE ?= bookworm
WHEELHOUSE ?=
MOLECULE_ENV := CONTAINERS_CONF=$(CURDIR)/scripts/containers.conf SEQR_S3_DEBIAN_RELEASE=$(DEBIAN_RELEASE) \
	SEQR_S3_WHEELHOUSE=$(if $(WHEELHOUSE),$(abspath $(WHEELHOUSE))) \
	MOLECULE_EPHEMERAL_DIRECTORY=$(CURDIR)/.cache/molecule/default
image: setup
	CONTAINERS_CONF=$(CURDIR)/scripts/containers.conf bash scripts/build-image.sh bookworm
	CONTAINERS_CONF=$(CURDIR)/scripts/containers.conf bash scripts/build-image.sh $(DEBIAN_RELEASE)

# The built collection installed the way an operator installs it, for Molecule's scenarios.
collection-installed: collection
	rm -rf .cache/collections
	$(BIN)/ansible-galaxy collection install --force -p .cache/collections \
	  dist/seqr_s3-seqr_s3-$$($(BIN)/python -c 'import tomllib; print(tomllib.load(open("python/pyproject.toml", "rb"))["project"]["version"])').tar.gz

# The whole scenario: destroy, syntax, create, prepare, check, converge, idempotence, verify, removal, destroy.
# verify drives igv.js in the controller's Chromium through the igv-tools driver.
molecule: image igv-tools collection-installed
	$(MOLECULE_ENV) $(BIN)/molecule test

# A release check, not CI: the default scenario with the seqr host on each Debian release (about 40 minutes
# each; every run adds a row (release, commit, result, verify counts, minutes) to molecule/default/platforms.md
# and keeps its log in .cache/molecule-matrix/), then the s3_networks scenario (about 60 minutes, below). Set
# RELEASES to run fewer releases, S3_NETWORKS=no to leave s3_networks out. Fails when any run failed.
RELEASES ?= bullseye bookworm trixie
S3_NETWORKS ?= yes
molecule-matrix: igv-tools collection-installed
	status=0; bash scripts/molecule-matrix.sh $(RELEASES) || status=1; \
	  if [ "$(S3_NETWORKS)" != no ]; then bash scripts/molecule-s3-networks.sh || status=1; fi; exit $$status

# molecule/s3_networks (issue 17), not in `make test` for CI's time (molecule-matrix runs it): radosgw over
# HTTPS with a private CA, every mode reading over it (igv.js too, in a browser trusting the CA), broken
# certificates refused; assume_role and web_identity with radosgw's STS, requester pays, an egress proxy. Adds a
# row to molecule/s3_networks/RESULTS.md.
molecule-s3-networks: igv-tools collection-installed
	bash scripts/molecule-s3-networks.sh

# A throwaway seqr host plus Ceph S3 store with the role applied; prints the URL and a curl line to try.
demo: image collection-installed
	$(MOLECULE_ENV) $(BIN)/molecule create
	$(MOLECULE_ENV) $(BIN)/molecule converge
	@$(MOLECULE_ENV) $(BIN)/python molecule/default/demo_info.py

demo-destroy: setup
	$(MOLECULE_ENV) $(BIN)/molecule destroy

# molecule/real_seqr: the same hosts and checks against an operator's own seqr checkout (copied in without .git):
# `make molecule-real-seqr SEQR_SOURCE=/path/to/seqr`. Without SEQR_SOURCE it says how to run it and succeeds.
# The seqr host's Debian follows the checkout's Python (scripts/seqr_host_release.py; DEBIAN_RELEASE or
# SEQR_S3_DEBIAN_RELEASE given overrides it); each run appends its row to molecule/real_seqr/RESULTS.md.
molecule-real-seqr: collection-installed
	$(if $(filter command line environment,$(origin DEBIAN_RELEASE)),SEQR_S3_DEBIAN_RELEASE=$(DEBIAN_RELEASE)) \
	  bash scripts/molecule-real-seqr.sh "$(if $(SEQR_SOURCE),$(abspath $(SEQR_SOURCE)))"

# Benchmarks (issue 7): nginx -> seqr stand-in -> SeaweedFS on loopback, each mode against direct S3, nginx from
# disk and the old approach. `bench` writes bench/results/<date>.json/.md/.png (run it on a quiet machine);
# `bench-smoke` runs the same harness with tiny sizes and one repetition and keeps no results.
bench: setup
	$(BIN)/python bench/run.py

bench-smoke: setup
	$(BIN)/python bench/run.py --smoke
