#!/usr/bin/env bash
# The straggler measurement of docs/RELIABILITY.md: 20m, K = 4 CPU workers, one of them 3x slower
# (`worker --slow-down 3`), synchronous rounds against `--round-quorum 3 --round-grace $GRACE`, same seeds and
# rounds, the two arms alternating (ABBA) so that a change in the machine's load hits both.
#
#   mvn -B -q -o package -DskipTests            # once
#   docs/straggler-20m.sh [seed ...]            # default seeds: 1 2 3; OUT=/tmp/straggler, GRACE=2
#   docs/straggler-20m.sh --summary             # only the table, from the runs in $OUT
#
# Prints, per run, the load before it, the process wall seconds, the rounds' seconds summed until the validation
# perplexity first reaches each target, and the final perplexity; then the same per arm. Delete $OUT afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/straggler}
GRACE=${GRACE:-2}
SEEDS=("${@:-1 2 3}")
read -r -a SEEDS <<<"${SEEDS[*]}"
export ORTHOSLICE_TOKEN=straggler ORTHOSLICE_NO_BUILD=1 OMP_NUM_THREADS=1 ORTHOSLICE_JAVA_OPTS=${ORTHOSLICE_JAVA_OPTS:--Xmx2g}
RUN="--workers 4 --preset 20m --seq-len 64 --batch-size 8 --eval-batches 8 --mode orthogonal --rank 64 --merge mean
     --lr 2e-3 --wire int8 --rounds 10 --local-steps 20 --metrics-port -1 --checkpoint-every 0"
mkdir -p "$OUT"

one() { # arm seed
  local arm=$1 seed=$2 dir=$OUT/$1-s$2 port=$((51000 + RANDOM % 1000)) extra=""
  [ "$arm" = quorum ] && extra="--round-quorum 3 --round-grace $GRACE"
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$arm seed $seed: $(uptime)" | tee "$dir/load.txt"
  local t0; t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  ./orthoslice coordinator $RUN $extra --seed "$seed" --port "$port" --output "$dir/coordinator" >"$dir/coordinator.log" 2>&1 &
  local c=$!
  sleep 2
  for w in 0 1 2; do
    ./orthoslice worker --coordinator "localhost:$port" --name "w$w" --metrics-port -1 >"$dir/w$w.log" 2>&1 &
  done
  ./orthoslice worker --coordinator "localhost:$port" --name slow --slow-down 3 --metrics-port -1 >"$dir/slow.log" 2>&1 &
  wait "$c"
  wait
  awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f\n", a - b }' >"$dir/wall.txt"
}

[ "${SEEDS[0]}" = --summary ] && SEEDS=()
for i in "${!SEEDS[@]}"; do
  s=${SEEDS[$i]}
  if (( i % 2 == 0 )); then one sync "$s"; one quorum "$s"; else one quorum "$s"; one sync "$s"; fi
done

python3 - "$OUT" <<'EOF'
import json, math, os, sys, statistics
out = sys.argv[1]
targets = [30, 25, 20, 18, 17, 16.5]
arms = {}
for d in sorted(os.listdir(out)):
    p = os.path.join(out, d, "coordinator", "summary.json")
    if not os.path.isfile(p):
        continue
    arm, seed = d.split("-s")
    s = json.load(open(p))
    wall = float(open(os.path.join(out, d, "wall.txt")).read())
    t, reach = 0.0, {}
    for r in s["round_results"]:
        t += r["roundSeconds"]
        ppl = math.exp(r["validationLoss"])
        for x in targets:
            if ppl <= x and x not in reach:
                reach[x] = t
    final = math.exp(s["round_results"][-1]["validationLoss"])
    merged = sum(len(r["mergedSlots"]) for r in s["round_results"])
    load = open(os.path.join(out, d, "load.txt")).read().split("load average:")[1].strip()
    arms.setdefault(arm, []).append((reach, final, t, wall))
    print(f"{arm:6} seed {seed}: final ppl {final:.2f}, rounds {t:.1f} s, process {wall:.1f} s, slots merged {merged},"
          f" load {load}; to " + ", ".join(f"{x}: {reach[x]:.1f} s" if x in reach else f"{x}: -" for x in targets))
for arm, runs in arms.items():
    def mean(xs):
        return f"{statistics.mean(xs):.1f}" + (f" +- {statistics.stdev(xs):.1f}" if len(xs) > 1 else "")
    print(f"{arm}: {len(runs)} seeds; final ppl {mean([r[1] for r in runs])}; rounds {mean([r[2] for r in runs])} s;"
          + "".join(f" to {x}: {mean([r[0][x] for r in runs])} s;" for x in targets if all(x in r[0] for r in runs)))
EOF
