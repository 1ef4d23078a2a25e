#!/usr/bin/env bash
# The course on a GPU machine, in one command (issue #24): installs the course with its `gpu` extra in a fresh
# virtualenv (.venv-gpu), then runs benchmarks/gpu_check.py:
#   nbval on every lesson notebook in `quick` on a GPU kernel; the speedrun notebook (08) in `class`, timed;
#   `cnncourse bench`. It writes results/bench/gpu_check_<machine>.json and .log (commit both).
#
#   bash benchmarks/gpu_check.sh                        # a GPU machine (refused, in one line, without a GPU)
#   bash benchmarks/gpu_check.sh --cpu                  # a CPU-only machine, on purpose: installs without the extra
#   bash benchmarks/gpu_check.sh --no-install ...       # use the Python environment that is active now
#   bash benchmarks/gpu_check.sh --cpu --smoke          # speedrun in quick, bench --quick: checks the script only
#
# Budget: about 8 minutes on one H100-class GPU once the wheels are cached; on the 2-core CPU the full run takes
# over half an hour (the speedrun alone is 11-15 minutes), the smoke run about 12 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
install=1 extra="dev,gpu" args=()
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    --cpu) extra="dev"; args+=("$arg") ;;
    --smoke) args+=("$arg") ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
if [ -z "${CNNCOURSE_MIRROR:-}" ] && [ -d ../shared/datasets ]; then
  export CNNCOURSE_MIRROR="$(cd ../shared/datasets && pwd)"
fi
if [ "$install" = 1 ]; then
  start=$SECONDS
  python3 -m venv .venv-gpu
  . .venv-gpu/bin/activate
  pip install -q -e ".[$extra]" -c .ci/constraints.txt
  echo "gpu_check: installed .[$extra] into .venv-gpu in $((SECONDS - start)) s"
fi
exec python benchmarks/gpu_check.py ${args[@]+"${args[@]}"}
