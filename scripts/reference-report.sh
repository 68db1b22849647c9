#!/usr/bin/env bash
# Make the published reference report (reports/reference/): every real scanner of this
# machine across all four modes, plus every third-party gateway `avbench lab up` started
# (clamsmtpd, clamav-milter, and when installed Haraka, Exim, rspamd, amavisd-new,
# amavisd-milter, Sendmail, Postfix in front of each milter, and Postfix in front of our own
# `serve milter` / `serve smtp` as lab gateways: postfix+avbench-milter, postfix+avbench-proxy),
# and the scanners alone, all on the one lab clamd (`--lab-dir`: RELOADed before every cold
# pass), on the quick corpus (seed 1): the report's gateways table compares them. Needs the
# Debian packages of ../shared/RUNBOOK.md and a build.
#   bash scripts/reference-report.sh [OUT_DIR]
# AVBENCH_REF_CONCURRENCY="8" benches one concurrency instead of "1 8" (at one session the
# after-queue gateways, amavisd-new and Postfix re-injection, wait their grace= for every
# blocked message: the full run takes hours).
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
# Every --sut URL the lab wrote, one per line (gateways not installed here are not in it).
SUTS=()
while IFS= read -r url; do SUTS+=(--sut "$url"); done < <(node -e 'for (const u of Object.values(JSON.parse(require("fs").readFileSync(process.argv[1]+"/state.json","utf8")).suts)) console.log(u)' "$LAB")
echo "gateways: $(( ${#SUTS[@]} / 2 )) from $LAB/state.json" >&2

CONC=()
for n in ${AVBENCH_REF_CONCURRENCY:-1 8}; do CONC+=(-n "$n"); done

rm -rf "$OUT"
"${AVBENCH[@]}" bench --corpus corpora/quick --lab-dir "$LAB" \
  -s embedded -s clamd -s clamscan -s clamdscan -s yara -s icap \
  -m direct -m smtp -m milter -m lda \
  "${SUTS[@]}" \
  "${CONC[@]}" --repeat 3 --warmup 1 --mode-limit lda=20 \
  --out "$OUT"
