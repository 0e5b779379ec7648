package io.orthoslice.common.config;


/**
 * How the rounds of a distributed run train and merge beyond its mode and rank, the same on the
 * coordinator and on every worker.
 *
 * @param merge sum or mean of the lifted factor updates (see {@link MergeRule})
 * @param sliceRounds the projections are re-drawn every this many rounds: rounds {@code [j R, (j+1) R)}
 *     share draw j (the paper re-draws every 200 steps; R = 1 re-draws every round)
 * @param innerState what a worker does with its optimizer state between rounds
 * @param wire how the updates and the broadcast travel (see {@link WirePrecision})
 * @param density the fraction of every change's entries a lossy wire sends (the largest; the rest
 *     waits in the error feedback); 1 sends them all
 * @param roundWarmup local steps over which every round ramps the learning rate up again (linearly, to
 *     the run's schedule at step W - 1); 0 trains every local step at the schedule's rate. A worker whose
 *     optimizer restarts each round takes its largest steps first (Adam's first update has size lr in
 *     every coordinate), which a ramp tempers.
 * @param overlap a worker trains round r + 1 while round r's updates travel and merge, from the
 *     weights before round r's merge plus its own change of round r (its local continuation), and
 *     takes the merged change one round late (Streaming DiLoCo's and DiLoCoX's one-step delay)
 */
public record RoundRules(MergeRule merge, int sliceRounds, InnerState innerState, WirePrecision wire,
    double density, int roundWarmup, boolean overlap) {

  public RoundRules {
    if (merge == null || innerState == null || wire == null) {
      throw new IllegalArgumentException("merge, inner-state and wire are required");
    }
    if (!(density > 0 && density <= 1)) {
      throw new IllegalArgumentException("wire-density must be in (0, 1], got " + density);
    }
    if (density < 1 && !wire.lossy()) {
      throw new IllegalArgumentException("wire-density " + density + " needs --wire f16 or int8 (f32 sends values)");
    }
    if (sliceRounds < 1) {
      throw new IllegalArgumentException("slice-rounds must be >= 1, got " + sliceRounds);
    }
    if (roundWarmup < 0) {
      throw new IllegalArgumentException("round-warmup must be >= 0 local steps, got " + roundWarmup);
    }
  }

  /** Synchronous rounds. */
  public RoundRules(MergeRule merge, int sliceRounds, InnerState innerState, WirePrecision wire, double density,
      int roundWarmup) {
    this(merge, sliceRounds, innerState, wire, density, roundWarmup, false);
  }

  /**
   * Whether a dense parameter travels as its change rather than its new value: on a lossy wire (its
   * error feedback works on changes), and with overlap (a worker's values start from its own
   * continuation, not from the weights the merge adds to).
   */
  public boolean denseChanges() {
    return wire.lossy() || overlap;
  }

  /** Rules without a warm-up per round. */
  public RoundRules(MergeRule merge, int sliceRounds, InnerState innerState, WirePrecision wire, double density) {
    this(merge, sliceRounds, innerState, wire, density, 0);
  }

  /** Rules whose wire sends every entry. */
  public RoundRules(MergeRule merge, int sliceRounds, InnerState innerState, WirePrecision wire) {
    this(merge, sliceRounds, innerState, wire, 1.0);
  }

  /** Rules with the exact float32 wire. */
  public RoundRules(MergeRule merge, int sliceRounds, InnerState innerState) {
    this(merge, sliceRounds, innerState, WirePrecision.F32);
  }

  /** The mode's own merge rule, slices re-drawn every round, a fresh optimizer every round, float32. */
  public static RoundRules defaultsFor(RoundMode mode) {
    return new RoundRules(MergeRule.DEFAULT, 1, InnerState.RESET);
  }

  /**
   * Refuses a warm-up per round outside {@code [0, localSteps]} (the coordinator's, launch's and the
   * sweep's check, so the message is one).
   */
  public static void requireRoundWarmup(int roundWarmup, int localSteps) {
    if (roundWarmup < 0 || roundWarmup > localSteps) {
      throw new IllegalArgumentException("--round-warmup must be in [0, --local-steps " + localSteps + "], got "
          + roundWarmup);
    }
  }

  /** The draw index round {@code round}'s projectors derive from. */
  public long draw(long round) {
    if (round < 0) {
      throw new IllegalArgumentException("round must be >= 0, got " + round);
    }
    return round / sliceRounds;
  }

  /**
   * The factor on the schedule's learning rate at local step {@code localStep} (0-based) of a round:
   * {@code min(1, (localStep + 1) / roundWarmup)}, or 1 without a warm-up per round.
   */
  public double lrFactor(int localStep) {
    if (localStep < 0) {
      throw new IllegalArgumentException("local step must be >= 0, got " + localStep);
    }
    return roundWarmup == 0 ? 1.0 : Math.min(1.0, (localStep + 1.0) / roundWarmup);
  }
}
