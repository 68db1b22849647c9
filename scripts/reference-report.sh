#!/usr/bin/env bash
# Make the published reference report (reports/reference/): every real scanner of this
# machine across all four modes, plus the third-party front ends clamsmtpd and clamav-milter,
# on the quick corpus (seed 1). Needs the Debian packages of ../shared/RUNBOOK.md and a build.
#   bash scripts/reference-report.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-reports/reference}"
LAB="$(mktemp -d /tmp/avbench-reflab-XXXXXX)"
AVBENCH=(node dist/src/cli/bin.js)
cleanup() { "${AVBENCH[@]}" lab down --dir "$LAB" >/dev/null || true; rm -rf "$LAB"; }
trap cleanup EXIT

npm run build >/dev/null
[ -f corpora/quick/manifest.json ] || "${AVBENCH[@]}" corpus generate --out corpora/quick --profile quick --seed 1
"${AVBENCH[@]}" lab up --detach --dir "$LAB" >/dev/null
SMTP_SUT=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]+"/state.json","utf8")).suts.clamsmtpd)' "$LAB")
MILTER_SUT=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]+"/state.json","utf8")).suts["clamav-milter"])' "$LAB")

rm -rf "$OUT"
"${AVBENCH[@]}" bench --corpus corpora/quick --lab \
  -s embedded -s clamd -s clamscan -s clamdscan -s yara -s icap \
  -m direct -m smtp -m milter -m lda \
  --sut "$SMTP_SUT" --sut "$MILTER_SUT" \
  -n 1 -n 8 --repeat 3 --warmup 1 --mode-limit lda=20 \
  --out "$OUT"
