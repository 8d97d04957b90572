#!/usr/bin/env bash
# Score the example prediction files of examples/ with `groundlm eval` and print the metric tables.
set -euo pipefail
GROUNDLM=${1:-groundlm}
case "$GROUNDLM" in */*) GROUNDLM="$(cd "$(dirname "$GROUNDLM")" && pwd)/$(basename "$GROUNDLM")" ;; esac
cd "$(dirname "$0")"
echo "== Referring expressions: one grounding 'model' per box format (examples/refer) =="
"$GROUNDLM" eval refer --gt refer/gt.jsonl \
  --pred refer/pred_cogvlm.jsonl --format cogvlm \
  --pred refer/pred_qwen.jsonl --format qwen \
  --pred refer/pred_florence2.jsonl --format florence2 \
  --pred refer/pred_kosmos2.jsonl --format kosmos2 \
  --pred refer/pred_shikra.jsonl --format shikra \
  --pred refer/pred_ferret.jsonl --format ferret \
  --pred refer/pred_paligemma.jsonl --format paligemma
echo
echo "== Head pose: VLM text answers vs. a frontal-face floor (examples/pose) =="
"$GROUNDLM" eval pose --gt pose/gt.jsonl --pred pose/pred_vlm.jsonl --format pose --pred pose/pred_frontal.jsonl --format pose
echo
echo "== Captions (pycocoevalcap, examples/caption) =="
"$GROUNDLM" eval caption --gt caption/gt.jsonl --pred caption/pred.jsonl
echo
echo "== Depth: metric vs. relative prediction, without and with median alignment (examples/depth) =="
"$GROUNDLM" eval depth --gt depth/gt.jsonl --pred depth/pred_metric.jsonl --pred depth/pred_relative.jsonl
"$GROUNDLM" eval depth --gt depth/gt.jsonl --pred depth/pred_metric.jsonl --pred depth/pred_relative.jsonl --align median
echo
echo "== Dense captioning mAP, DenseCap protocol (examples/densecap) =="
"$GROUNDLM" eval densecap --gt densecap/gt.jsonl --pred densecap/pred.jsonl
