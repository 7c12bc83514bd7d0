#!/bin/bash
# The README's test command: prepare everything (scripts/prepare.sh), then
# run every test (scripts/check.py), which ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prepare.sh
exec scripts/check.py "$@"
