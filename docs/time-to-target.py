#!/usr/bin/env python3
"""Time to a target validation perplexity, from launch run directories (docs/RESULTS.md, issue 29's link benchmark).

    python3 docs/time-to-target.py [--targets 25,20,18,17.5,17] LABEL=RUN_DIR [LABEL=RUN_DIR ...]

Reads RUN_DIR/coordinator/rounds.jsonl (one JSON object a round). Wall time is the rounds' seconds summed
(roundSeconds: from a round's opening to the next one's), up to and including the round whose validation first
reaches the target; rounds without a validation (--eval-every > 1) count their seconds but cannot reach a target.
Perplexity is exp(validationLoss). Prints a markdown table (one column per run) and a second one with the rounds'
training, fetch and merge seconds summed, to show where the wall time went. With --by-run: one row per run
("-": the target is not reached), its final perplexity, and its seconds, training and the rest summed.
"""
import argparse
import json
import math
import os
import sys


def load(run_dir):
    path = os.path.join(run_dir, "coordinator", "rounds.jsonl")
    if not os.path.exists(path):
        sys.exit(f"no {path}")
    rounds = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rounds.append(json.loads(line))
    rounds.sort(key=lambda r: r["round"])
    for r in rounds:  # NaN/Infinity written as strings
        for k, v in r.items():
            if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
                r[k] = float(v)
    return rounds


def curve(rounds):
    """(wall seconds so far, perplexity or None) after each round."""
    t, out = 0.0, []
    for r in rounds:
        t += r["roundSeconds"]
        loss = r.get("validationLoss")  # NaN on rounds without a validation
        loss = loss if loss is not None else math.nan
        ppl = math.exp(loss) if math.isfinite(loss) else None
        out.append((t, ppl))
    return out


def first_reach(points, target):
    for t, ppl in points:
        if ppl is not None and ppl <= target:
            return t
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="25,20,18,17.5,17")
    ap.add_argument("--by-run", action="store_true",
                    help="one row per run (targets, final perplexity and seconds as columns) instead")
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    a = ap.parse_args()
    targets = [float(x) for x in a.targets.split(",")]
    runs = []
    for spec in a.runs:
        label, _, d = spec.partition("=")
        rounds = load(d)
        runs.append((label, rounds, curve(rounds)))
    if a.by_run:
        by_run(runs, targets)
        return

    print("| target | " + " | ".join(label for label, _, _ in runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for target in targets:
        cells = []
        for _, _, pts in runs:
            t = first_reach(pts, target)
            if t is not None:
                cells.append(f"{t:.1f}")
            else:
                last = [p for _, p in pts if p is not None]
                cells.append(f"not reached ({last[-1]:.2f} at the end)" if last else "no validation")
        print(f"| {target:g} | " + " | ".join(cells) + " |")
    finals = []
    for _, _, pts in runs:
        last = [(t, p) for t, p in pts if p is not None]
        finals.append(f"{last[-1][1]:.2f} in {pts[-1][0]:.1f} s" if last else "-")
    print("| final | " + " | ".join(finals) + " |")

    print()
    print("| seconds summed over the rounds | " + " | ".join(label for label, _, _ in runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for key, name in (("roundSeconds", "round (wall)"), ("trainSeconds", "train"), ("fetchSeconds", "fetch"),
                      ("mergeSeconds", "merge")):
        cells = [f"{sum(r.get(key) or 0.0 for r in rounds):.1f}" for _, rounds, _ in runs]
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"{sum(r['roundSeconds'] - (r.get('trainSeconds') or 0.0) for r in rounds):.1f}" for _, rounds, _ in runs]
    print("| round minus train (what the link, the merge and waiting cost) | " + " | ".join(cells) + " |")
    print("| rounds | " + " | ".join(str(len(rounds)) for _, rounds, _ in runs) + " |")


def by_run(runs, targets):
    print("| run | " + " | ".join(f"to {t:g}" for t in targets)
          + " | final perplexity | seconds | train | round minus train |")
    print("|---" * (len(targets) + 5) + "|")
    for label, rounds, pts in runs:
        cells = []
        for target in targets:
            t = first_reach(pts, target)
            cells.append(f"{t:.1f}" if t is not None else "-")
        last = [p for _, p in pts if p is not None]
        train = sum(r.get("trainSeconds") or 0.0 for r in rounds)
        cells += [f"{last[-1]:.2f}" if last else "-", f"{pts[-1][0]:.1f}", f"{train:.1f}", f"{pts[-1][0] - train:.1f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
