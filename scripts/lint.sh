#!/usr/bin/env bash
# Lint as CI does: ruff (rules and format) and the import-layer contracts. Fails fast.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
ruff check .
ruff format --check .
lint-imports
