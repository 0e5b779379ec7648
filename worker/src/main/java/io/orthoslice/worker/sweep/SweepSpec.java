package io.orthoslice.worker.sweep;

import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.RunConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A sweep: the settings every cell shares and the axes of its grid. Cells are every combination of
 * mode x workers x merge x slice-rounds x inner-state x outer lr x outer momentum x wire x density x
 * adapter scale x round warm-up x lr x seed; the
 * rank is {@code rank}, or {@code fixedKr / K} to keep K r constant (the shape of the paper's Table 4).
 * Mode full has no merge rule, slices or adapter scale: its cells take one of each.
 *
 * @param merges "auto" (each mode's own rule), "sum", "mean"
 * @param gpu the GPU index every worker of a cell trains on, or -1 for the CPU
 */
public record SweepSpec(
    String preset,
    int seqLen,
    int batchSize,
    int rounds,
    int localSteps,
    int evalBatches,
    int evalEvery,
    String data,
    String tokenizer,
    int gpu,
    int threads,
    List<String> modes,
    List<Integer> workers,
    int rank,
    int fixedKr,
    List<String> merges,
    List<Integer> sliceRounds,
    List<String> innerStates,
    List<Double> outerLrs,
    List<Double> outerMomentums,
    List<String> wires,
    List<Double> densities,
    List<Double> scales,
    List<Integer> roundWarmups,
    List<Double> lrs,
    List<Long> seeds) {

  public SweepSpec {
    positive("seq-len", seqLen);
    positive("batch-size", batchSize);
    positive("rounds", rounds);
    positive("local-steps", localSteps);
    positive("eval-batches", evalBatches);
    positive("eval-every", evalEvery);
    if (threads < 0) {
      throw new IllegalArgumentException("--threads must be >= 0 (0: automatic), got " + threads);
    }
    nonEmpty("modes", modes);
    nonEmpty("workers", workers);
    nonEmpty("merge", merges);
    nonEmpty("slice-rounds", sliceRounds);
    nonEmpty("inner-state", innerStates);
    nonEmpty("outer-lr", outerLrs);
    nonEmpty("outer-momentum", outerMomentums);
    nonEmpty("wire", wires);
    wires.forEach(WirePrecision::parse);
    nonEmpty("wire-density", densities);
    if (densities.stream().anyMatch(d -> !(d > 0 && d <= 1))) {
      throw new IllegalArgumentException("--wire-density values must be in (0, 1], got " + densities);
    }
    nonEmpty("scale", scales);
    if (scales.stream().anyMatch(v -> !(v > 0))) {
      throw new IllegalArgumentException("--scale values must be > 0, got " + scales);
    }
    nonEmpty("round-warmup", roundWarmups);
    roundWarmups.forEach(w -> RoundRules.requireRoundWarmup(w, localSteps));
    nonEmpty("lr", lrs);
    nonEmpty("seeds", seeds);
    modes.forEach(RoundMode::parse);
    merges.forEach(m -> {
      if (!m.equals("auto")) {
        MergeRule.parse(m);
      }
    });
    innerStates.forEach(InnerState::parse);
    for (int k : workers) {
      if (k < 1) {
        throw new IllegalArgumentException("--workers values must be >= 1, got " + k);
      }
      if (fixedKr > 0 && fixedKr % k != 0) {
        throw new IllegalArgumentException("--fixed-kr " + fixedKr + " is not divisible by " + k
            + " workers; choose K values that divide it");
      }
    }
    if ((rank > 0) == (fixedKr > 0)) {
      throw new IllegalArgumentException("give exactly one of --rank and --fixed-kr");
    }
    if (lrs.stream().anyMatch(v -> !(v > 0))) {
      throw new IllegalArgumentException("--lr values must be > 0, got " + lrs);
    }
    modes = List.copyOf(modes);
    workers = List.copyOf(workers);
    merges = List.copyOf(merges);
    sliceRounds = List.copyOf(sliceRounds);
    innerStates = List.copyOf(innerStates);
    outerLrs = List.copyOf(outerLrs);
    outerMomentums = List.copyOf(outerMomentums);
    wires = List.copyOf(wires);
    densities = List.copyOf(densities);
    scales = List.copyOf(scales);
    roundWarmups = List.copyOf(roundWarmups);
    lrs = List.copyOf(lrs);
    seeds = List.copyOf(seeds);
  }

  private static void positive(String name, int v) {
    if (v < 1) {
      throw new IllegalArgumentException("--" + name + " must be >= 1, got " + v);
    }
  }

  private static void nonEmpty(String name, List<?> v) {
    if (v == null || v.isEmpty()) {
      throw new IllegalArgumentException("--" + name + " needs at least one value");
    }
  }

  /** r of a cell with K workers. */
  public int rankFor(int k) {
    return fixedKr > 0 ? fixedKr / k : rank;
  }

  /**
   * Every cell with the given seeds and learning rates, in a stable order (mode, K, levers, lr,
   * seed); duplicates (mode full under several merge rules or slice lifetimes) appear once.
   */
  public List<SweepCell> cells(List<Double> withLrs, List<Long> withSeeds) {
    Map<String, SweepCell> out = new LinkedHashMap<>();
    for (String mode : modes) {
      RoundMode m = RoundMode.parse(mode);
      for (int k : workers) {
        for (String merge : merges) {
          String rule = m == RoundMode.FULL ? "mean"
              : merge.equals("auto") ? MergeRule.byConstruction(m).label() : MergeRule.parse(merge).label();
          for (int slices : sliceRounds) {
            int s = m == RoundMode.FULL ? 1 : slices;
            for (String inner : innerStates) {
              for (double olr : outerLrs) {
                for (double om : outerMomentums) {
                  for (String wire : wires) {
                    // A density below 1 needs a lossy wire: f32 cells send every entry.
                    for (double density : WirePrecision.parse(wire).lossy() ? densities : List.of(1.0)) {
                      for (double scale : m == RoundMode.FULL ? List.of(1.0) : scales) {
                        for (int warm : roundWarmups) {
                          for (double lr : withLrs) {
                            for (long seed : withSeeds) {
                              SweepCell c = new SweepCell(m.label(), k, m == RoundMode.FULL ? 0 : rankFor(k), rule,
                                  s, InnerState.parse(inner).label(), olr, om, wire, density, scale, warm, lr, seed);
                              out.putIfAbsent(c.slug(), c);
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return new ArrayList<>(out.values());
  }

  /**
   * The whole run of cell {@code c}: {@code base} (a run.json's settings, or the defaults) with the
   * sweep's shared settings and then the cell's own put in. The learning-rate floor is the record's
   * rule, lr / 10, unless {@code base} sets one.
   */
  public RunConfig runConfig(RunConfig base, SweepCell c) {
    Map<String, Object> m = new LinkedHashMap<>(sharedSettings()); // the same names as the run's settings
    m.put("data", data); // null: the embedded sample (sharedSettings spells it "")
    m.putAll(c.settings());
    return base.with(m);
  }

  /** The settings a resumed sweep must share with the one that wrote its cells (the axes may grow). */
  public Map<String, Object> sharedSettings() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("preset", preset);
    m.put("seq_len", seqLen);
    m.put("batch_size", batchSize);
    m.put("rounds", rounds);
    m.put("local_steps", localSteps);
    m.put("eval_batches", evalBatches);
    m.put("eval_every", evalEvery);
    m.put("data", data == null ? "" : data);
    m.put("tokenizer", tokenizer);
    return m;
  }
}
