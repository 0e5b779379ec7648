package io.orthoslice.worker.sweep;

import io.orthoslice.common.config.WirePrecision;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Locale;

/**
 * One distributed run of a sweep: a mode, the number of workers K and their rank r, the round
 * rules and outer step, the learning rate and the seed. Everything else (model, data, rounds,
 * local steps) is the sweep's and the same for every cell.
 *
 * @param merge "sum" or "mean" (resolved: never "auto")
 * @param wire the wire precision, f32 | f16 | int8 (a cell recorded before it existed is f32)
 * @param density the fraction of a change's entries a lossy wire sends (recorded before it existed: 1)
 * @param scale the adapter scale alpha of W + alpha B P^T (recorded before it existed: 1)
 * @param roundWarmup local steps of the learning-rate ramp every round starts with (0: none, also
 *     for a cell recorded before it existed)
 */
public record SweepCell(String mode, int workers, int rank, String merge, int sliceRounds, String innerState,
    double outerLr, double outerMomentum, String wire, double density, double scale, int roundWarmup, double lr,
    long seed) {

  public SweepCell {
    wire = wire == null ? "f32" : WirePrecision.parse(wire).label();
    density = density == 0 ? 1 : density;
    scale = scale == 0 ? 1 : scale;
  }

  /** A cell at adapter scale 1 without a warm-up per round. */
  public SweepCell(String mode, int workers, int rank, String merge, int sliceRounds, String innerState,
      double outerLr, double outerMomentum, String wire, double density, double lr, long seed) {
    this(mode, workers, rank, merge, sliceRounds, innerState, outerLr, outerMomentum, wire, density, 1, 0, lr, seed);
  }

  /** A cell on the exact float32 wire. */
  public SweepCell(String mode, int workers, int rank, String merge, int sliceRounds, String innerState,
      double outerLr, double outerMomentum, double lr, long seed) {
    this(mode, workers, rank, merge, sliceRounds, innerState, outerLr, outerMomentum, "f32", 1, lr, seed);
  }

  /** This cell with another seed (a seed of the second phase, at the first phase's best lr). */
  public SweepCell withSeed(long s) {
    return new SweepCell(mode, workers, rank, merge, sliceRounds, innerState, outerLr, outerMomentum, wire, density,
        scale, roundWarmup, lr, s);
  }

  /** The configuration a table row reports, lr and seed aside: mode and its levers. */
  public String group() {
    StringBuilder g = new StringBuilder(mode);
    if (!mode.equals("full")) {
      g.append(" ").append(merge);
      if (sliceRounds != 1) {
        g.append(", slices ").append(sliceRounds).append(" rounds");
      }
    }
    if (!innerState.equals("reset")) {
      g.append(", inner ").append(innerState);
    }
    if (outerLr != 1.0 || outerMomentum != 0.0) {
      g.append(String.format(Locale.ROOT, ", outer %s/%s", num(outerLr), num(outerMomentum)));
    }
    if (!wire.equals("f32")) {
      g.append(", wire ").append(wire);
    }
    if (density != 1) {
      g.append(", density ").append(num(density));
    }
    if (scale != 1) {
      g.append(", scale ").append(num(scale));
    }
    if (roundWarmup != 0) {
      g.append(", round warm-up ").append(roundWarmup);
    }
    return g.toString();
  }

  /**
   * A file-name-safe identity, unique within a sweep; a cell at the defaults of a later axis (f32, density
   * 1, scale 1, no round warm-up) keeps the identity it had before that axis existed.
   */
  public String slug() {
    return String.format(Locale.ROOT, "%s-k%d-r%d-%s-s%d-%s-o%s-m%s-lr%s-seed%d", mode, workers, rank, merge,
        sliceRounds, innerState, num(outerLr), num(outerMomentum), num(lr), seed)
        + (wire.equals("f32") ? "" : "-w" + wire) + (density == 1 ? "" : "-d" + num(density))
        + (scale == 1 ? "" : "-a" + num(scale)) + (roundWarmup == 0 ? "" : "-rw" + roundWarmup);
  }

  /**
   * The run settings that make this cell, by name (the sweep's shared settings come first; see {@link
   * SweepSpec#runConfig}). Mode full has no merge rule, slices or adapter scale of its own.
   */
  Map<String, Object> settings() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mode", mode);
    m.put("workers", workers);
    m.put("rank", rank);
    m.put("lr", lr);
    m.put("seed", seed);
    m.put("inner_state", innerState);
    m.put("outer_lr", outerLr);
    m.put("outer_momentum", outerMomentum);
    m.put("wire", wire);
    m.put("wire_density", density);
    m.put("round_warmup", roundWarmup);
    if (!mode.equals("full")) {
      m.put("merge", merge);
      m.put("slice_rounds", sliceRounds);
      m.put("scale", scale);
    }
    return m;
  }

  static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e6 ? Long.toString((long) v) : Double.toString(v);
  }
}
