#!/usr/bin/env bash
# The whole test suite: unit tests of the core, and end-to-end tests that start real servers against a
# throwaway PostgreSQL cluster, drive the real CLI, check TOTP codes from oathtool and render the
# compliance page in headless chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh --for-tests
swift build --build-tests
scripts/with-postgres.sh swift test --skip-build "$@"
