#!/usr/bin/env python3
"""Margins of docs/RESULTS.md's "workers against rank" table, from a sweep's kept cells.

For every (mode, K): the lr grid run on the first seed with each lr's final perplexity (a mark where the
best sits at the grid's edge), the best lr, and the seeds run there. Then, per K, orthogonal's mean minus
each other mode's, in units of the two modes' pooled seed standard deviation, and the paired difference
seed by seed. The same rule as `orthoslice sweep` (best lr on the first seed; mean and sample std over the
seeds at it), so the numbers match its table.

    python3 docs/workers-vs-rank-margins.py docs/sweeps/workers-vs-rank-tiny/cells.jsonl

Several cells files are read as one (the orthogonal_dct cells of docs/sweeps/orthogonal-dct-tiny beside the study's).
"""
import json
import statistics
import sys
from collections import defaultdict

MODES = ["orthogonal", "orthogonal_dct", "independent", "same", "full"]
RANKS = {}  # (mode, K) -> r, as the cells record it


def load(paths):
    cells = defaultdict(dict)  # (mode, K) -> {(lr, seed): final ppl}
    for line in (line for path in paths for line in open(path)):
        if not line.strip():
            continue
        r = json.loads(line)
        c = r["cell"]
        ppl = r["perplexityByRound"][-1] if r["status"] == "ok" and r["perplexityByRound"] else float("nan")
        cells[(c["mode"], c["workers"])][(c["lr"], c["seed"])] = ppl
        RANKS[(c["mode"], c["workers"])] = c.get("rank", 0)
    return cells


def best(runs):
    first = min(s for _, s in runs)
    grid = sorted((lr, p) for (lr, s), p in runs.items() if s == first)
    ok = [(p, lr) for lr, p in grid if p == p]
    lr = min(ok)[1] if ok else None
    seeds = sorted((s, p) for (l, s), p in runs.items() if l == lr)
    edge = len(grid) > 1 and lr in (grid[0][0], grid[-1][0])
    return grid, lr, seeds, edge


def main(paths):
    cells = load(paths)
    ks = sorted({k for _, k in cells})
    rows = {}
    print("| mode | K | r | lr grid (seed 42: final ppl) | best lr | seeds | mean ± sd |")
    print("|---|---|---|---|---|---|---|")
    for m in MODES:
        for k in ks:
            if (m, k) not in cells:
                continue
            grid, lr, seeds, edge = best(cells[(m, k)])
            ps = [p for _, p in seeds]
            sd = statistics.stdev(ps) if len(ps) > 1 else 0.0
            rows[(m, k)] = (lr, dict(seeds), statistics.mean(ps), sd, edge)
            g = ", ".join(f"{l:g}: {p:.2f}" for l, p in grid)
            print(f"| {m} | {k} | {RANKS.get((m, k), 0)} | {g} | {lr:g}{' (edge)' if edge else ''} | "
                  f"{' / '.join(f'{p:.2f}' for p in ps)} | {statistics.mean(ps):.2f} ± {sd:.2f} (n={len(ps)}) |")
    print()
    print("| K | vs | orthogonal minus other | in pooled seed sd | paired by seed (mean ± sd) |")
    print("|---|---|---|---|---|")
    for k in ks:
        if ("orthogonal", k) not in rows:
            continue
        _, os_, om, osd, _ = rows[("orthogonal", k)]
        for m in MODES[1:]:
            if (m, k) not in rows:
                continue
            _, xs, xm, xsd, _ = rows[(m, k)]
            pooled = ((osd ** 2 + xsd ** 2) / 2) ** 0.5
            units = f"{(om - xm) / pooled:+.1f}" if pooled > 0 else "-"
            common = sorted(set(os_) & set(xs))
            d = [os_[s] - xs[s] for s in common]
            paired = (f"{statistics.mean(d):+.2f} ± {statistics.stdev(d):.2f} (n={len(d)})" if len(d) > 1
                      else "-")
            print(f"| {k} | {m} | {om - xm:+.2f} | {units} | {paired} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["docs/sweeps/workers-vs-rank-tiny/cells.jsonl"])
