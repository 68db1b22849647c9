#!/usr/bin/env bash
# The project's own detection-regression gate (issue 6, docs/ci.md), run by .ci/run after
# the test suite: real scanners on loopback (`avbench lab up`), the quick corpus (seed 1),
# a small matrix — embedded, clamd and yara in direct mode and through our SMTP proxy,
# one repeat, no cold pass (detection does not depend on caches; the cold pass would double
# the gate's time) — then `avbench check` against the committed baselines/quick.thresholds.json
# (detection, false positives and errors only: never timing on a shared machine).
# JUnit goes to out/ci-regression/junit.xml, the Markdown summary next to it. The lab is
# stopped on every path (trap). Exit: 0 no regression, 1 regression, 2 unusable input,
# anything else: the lab or the bench could not run. About 30 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${AVBENCH_GATE_OUT:-out/ci-regression}"
BASELINE="${AVBENCH_GATE_BASELINE:-baselines/quick.thresholds.json}"
LAB="$OUT/lab"
AVBENCH=(node dist/src/cli/bin.js)

if [ ! -f dist/src/cli/bin.js ]; then
  echo "gate: building the CLI (npm run build)"
  npm run build --silent
fi

rm -rf "$OUT"
mkdir -p "$OUT"

lab_down() {
  "${AVBENCH[@]}" lab down --dir "$LAB" || echo "gate: lab down failed (see $LAB/lab.log)" >&2
}
trap lab_down EXIT

echo "gate: lab up"
"${AVBENCH[@]}" lab up --detach --dir "$LAB"

echo "gate: quick corpus (seed 1)"
"${AVBENCH[@]}" corpus generate --out "$OUT/quick" --seed 1 --profile quick

echo "gate: bench embedded, clamd, yara × direct, smtp"
CI=true "${AVBENCH[@]}" bench --corpus "$OUT/quick" --config "$LAB/avbench.config.json" \
  -s embedded -s clamd -s yara -m direct -m smtp --repeat 1 --warmup 0 --no-cold --no-baseline --out "$OUT/bench"

echo "gate: check against $BASELINE"
status=0
"${AVBENCH[@]}" check --results "$OUT/bench/results.json" --baseline "$BASELINE" \
  --junit "$OUT/junit.xml" --markdown "$OUT/check.md" || status=$?

if [ -f "$OUT/junit.xml" ]; then
  cases=$(grep -c '<testcase ' "$OUT/junit.xml" || true)
  failed=$(grep -c '<failure ' "$OUT/junit.xml" || true)
  echo "gate: $((cases - failed)) of $cases JUnit cases ok, $failed regressed"
fi
exit "$status"
