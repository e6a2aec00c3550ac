#!/bin/sh
# Commit benchmarks of generator/gitrepo: 20,000 files of ~300 bytes in 5,000
# folders, fleetgen's plumbing against the git CLI and go-git's Worktree.Status.
# Each benchmark runs once (-benchtime 1x, override with BENCHTIME=3x); the
# machine is noisy, so run it more than once before comparing figures.
set -eu
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
exec go test -run xxx -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-1x}" -benchmem ./generator/gitrepo/
