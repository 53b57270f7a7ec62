#!/usr/bin/env bash
# Grade each submission (args) as root with fixtures $PLAIN and $IDX (same files, the latter indexed), through
# redteam/late_imports.py, and diff the results.json (execution_time and per-test timing removed).
# usage: PLAIN=/tmp/rt/tc_plain IDX=/tmp/rt/tc_idx OUT=/tmp/rt/cmp redteam/compare_index.sh SUB...
set -u
PY=/work/main/.venv/bin/python
mkdir -p "$OUT"
for sub in "$@"; do
  tag=$(echo "$sub" | tr '/' '_')
  for kind in PLAIN IDX; do
    $PY redteam/late_imports.py grade "$sub" --fixtures "${!kind}" --results "$OUT/$tag.$kind.json" --quiet \
      ${EXTRA:-} > "$OUT/$tag.$kind.log" 2>&1
  done
  norm='import json,sys; d=json.load(open(sys.argv[1])); d.pop("execution_time",None)
def strip(x):
    if isinstance(x,dict): return {k:strip(v) for k,v in x.items() if k not in ("execution_time","seconds")}
    if isinstance(x,list): return [strip(v) for v in x]
    return x
print(json.dumps(strip(d),indent=1,sort_keys=True))'
  $PY -c "$norm" "$OUT/$tag.PLAIN.json" > "$OUT/$tag.PLAIN.norm" 2>&1
  $PY -c "$norm" "$OUT/$tag.IDX.json" > "$OUT/$tag.IDX.norm" 2>&1
  if diff -q "$OUT/$tag.PLAIN.norm" "$OUT/$tag.IDX.norm" >/dev/null; then same=same; else same=DIFFERENT; fi
  late=$(grep -h "LATE IMPORT" "$OUT/$tag.PLAIN.log" "$OUT/$tag.IDX.log" | sort -u | awk '{print $3}' | tr '\n' ' ')
  echo "$sub: $same; score $(grep -h Total "$OUT/$tag.IDX.log"); late: $late"
done
