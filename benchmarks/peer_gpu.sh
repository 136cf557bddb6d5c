#!/usr/bin/env bash
# tui-lora vs kohya sd-scripts on one GPU with matched settings, as one table (s/step and peak VRAM,
# with the ratios). Makes kohya's own venv with its pinned requirements at a pinned commit, then runs
# benchmarks/peer_gpu.py (models, datasets, both trainers through benchmarks/peer_measure.py, table).
#
#   benchmarks/peer_gpu.sh                     # real-size SD1.5 and SDXL on the first CUDA GPU
#   benchmarks/peer_gpu.sh --smoke             # tiny models, 3 steps, CPU; kohya is not installed
#   benchmarks/peer_gpu.sh --work DIR          # keep models, kohya's checkout and venv in DIR (reruns skip
#                                              # the install and the model build)
#   benchmarks/peer_gpu.sh --kohya-dir DIR     # an existing sd-scripts checkout (no clone)
#   benchmarks/peer_gpu.sh --wheels DIR        # install kohya's venv from local wheels only (no internet)
#
# PYTHON is tui-lora's interpreter (default: the repo's .venv, else python3). Other arguments go to
# peer_gpu.py (e.g. --family sdxl).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# kohya sd-scripts' main branch of 2026-02-16 and the torch its README installs for CUDA 12.4.
KOHYA_REPO="https://github.com/kohya-ss/sd-scripts"
KOHYA_COMMIT="48d368fa557731ad0488c07304dfeba8c07910eb"
KOHYA_TORCH=(torch==2.6.0 torchvision==0.21.0)
KOHYA_TORCH_INDEX="https://download.pytorch.org/whl/cu124"

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
SMOKE=0 WORK="" KOHYA_DIR="" WHEELS="" PASS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) SMOKE=1; PASS+=("--smoke"); shift ;;
    --work) WORK="$2"; shift 2 ;;
    --kohya-dir) KOHYA_DIR="$2"; shift 2 ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) PASS+=("$1"); shift ;;
  esac
done
WORK="${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/tui-lora-peer-XXXXXX")}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1  # both trainers load everything from local folders

if [[ $SMOKE == 1 ]]; then
  echo "--smoke: kohya sd-scripts is not installed; its columns say so." >&2
  exec "$PYTHON" "$HERE/peer_gpu.py" --work "$WORK" ${PASS[@]+"${PASS[@]}"}
fi

# ----- kohya sd-scripts at the pinned commit, in its own venv ---------------------------------------
if [[ -z "$KOHYA_DIR" ]]; then
  KOHYA_DIR="$WORK/sd-scripts"
  if [[ ! -d "$KOHYA_DIR/.git" ]]; then
    git clone --quiet "$KOHYA_REPO" "$KOHYA_DIR"
  fi
fi
KOHYA_DIR="$(cd "$KOHYA_DIR" && pwd)"
if [[ -d "$KOHYA_DIR/.git" ]] && [[ "$(git -C "$KOHYA_DIR" rev-parse HEAD)" != "$KOHYA_COMMIT" ]]; then
  git -C "$KOHYA_DIR" fetch --quiet origin "$KOHYA_COMMIT" 2>/dev/null || true
  git -C "$KOHYA_DIR" checkout --quiet "$KOHYA_COMMIT"
fi
VENV="$WORK/kohya-venv"
if [[ ! -f "$VENV/.installed-$KOHYA_COMMIT" ]]; then
  echo "installing kohya sd-scripts ${KOHYA_COMMIT:0:10} into $VENV …" >&2
  python3 -m venv "$VENV"
  PIP=("$VENV/bin/python" -m pip install --quiet)
  if [[ -n "$WHEELS" ]]; then
    PIP+=(--no-index --find-links "$WHEELS")
    "${PIP[@]}" "${KOHYA_TORCH[@]}"
  else
    "${PIP[@]}" --upgrade pip
    "${PIP[@]}" "${KOHYA_TORCH[@]}" --index-url "$KOHYA_TORCH_INDEX"
  fi
  # its requirements.txt pins its libraries and ends with "-e ." (its own library): run from its folder
  (cd "$KOHYA_DIR" && "${PIP[@]}" -r requirements.txt)
  touch "$VENV/.installed-$KOHYA_COMMIT"
fi

"$PYTHON" "$HERE/peer_gpu.py" --work "$WORK" --kohya-python "$VENV/bin/python" --kohya-dir "$KOHYA_DIR" \
  ${PASS[@]+"${PASS[@]}"}
