package io.orthoslice.coordinator;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import java.time.Duration;

/**
 * One distributed run, as the coordinator runs it and the workers are told it.
 *
 * @param train the workers' training configuration; {@code steps} is rounds x localSteps (the
 *     learning-rate schedule spans the whole run) and its method is ADAPTER (projected modes) or
 *     FULL (mode full), never merging within a round
 * @param rank r of each slot (ignored in mode full)
 * @param expectedWorkers the first round opens when this many have joined
 * @param minWorkers later rounds open only with at least this many live workers
 * @param roundTimeout a round's deadline, counted from its opening
 * @param heartbeatTimeout a worker silent for this long is dropped from membership
 * @param outerLr, outerMomentum DiLoCo's outer Nesterov step; (1, 0) is the plain merge
 * @param checkpointEvery checkpoint every C rounds (0: only at the end)
 * @param rules merge rule, slice lifetime and inner optimizer state across rounds
 * @param evalEvery validation every E rounds and after the last (short rounds would otherwise spend
 *     most of their time evaluating)
 * @param limits what an update may hold beside its shapes (finite, bounded, no outlier)
 */
public record RunSettings(
    LlamaConfig model,
    TrainConfig train,
    RoundMode mode,
    int rank,
    int localSteps,
    int rounds,
    int expectedWorkers,
    int minWorkers,
    Duration roundTimeout,
    Duration heartbeatTimeout,
    String datasetId,
    double outerLr,
    double outerMomentum,
    int checkpointEvery,
    int evalBatches,
    RoundRules rules,
    int evalEvery,
    UpdateLimits limits) {

  /** With the mode's own rules ({@link RoundRules#defaultsFor}). */
  public RunSettings(LlamaConfig model, TrainConfig train, RoundMode mode, int rank, int localSteps, int rounds,
      int expectedWorkers, int minWorkers, Duration roundTimeout, Duration heartbeatTimeout, String datasetId,
      double outerLr, double outerMomentum, int checkpointEvery, int evalBatches) {
    this(model, train, mode, rank, localSteps, rounds, expectedWorkers, minWorkers, roundTimeout, heartbeatTimeout,
        datasetId, outerLr, outerMomentum, checkpointEvery, evalBatches, RoundRules.defaultsFor(mode), 1,
        UpdateLimits.DEFAULT);
  }

  public RunSettings {
    if (localSteps < 1) {
      throw new IllegalArgumentException("local-steps must be >= 1, got " + localSteps);
    }
    if (rounds < 1) {
      throw new IllegalArgumentException("rounds must be >= 1, got " + rounds);
    }
    if (expectedWorkers < 1) {
      throw new IllegalArgumentException("workers must be >= 1, got " + expectedWorkers);
    }
    if (minWorkers < 1 || minWorkers > expectedWorkers) {
      throw new IllegalArgumentException("min-workers must be in [1, workers=" + expectedWorkers + "], got "
          + minWorkers);
    }
    if (roundTimeout.isNegative() || roundTimeout.isZero()) {
      throw new IllegalArgumentException("round-timeout must be positive, got " + roundTimeout);
    }
    if (heartbeatTimeout.isNegative() || heartbeatTimeout.isZero()) {
      throw new IllegalArgumentException("heartbeat-timeout must be positive, got " + heartbeatTimeout);
    }
    if (checkpointEvery < 0) {
      throw new IllegalArgumentException("checkpoint-every must be >= 0, got " + checkpointEvery);
    }
    if (rules == null || limits == null) {
      throw new IllegalArgumentException("round rules and update limits are required");
    }
    if (evalEvery < 1) {
      throw new IllegalArgumentException("eval-every must be >= 1, got " + evalEvery);
    }
    if (evalBatches < 1) {
      throw new IllegalArgumentException("eval-batches must be >= 1, got " + evalBatches);
    }
    if (train.steps() != (long) rounds * localSteps) {
      throw new IllegalArgumentException("train.steps must be rounds x local-steps = " + (long) rounds * localSteps
          + ", got " + train.steps());
    }
    // The K r <= d check with the expected worker count, at start, with a message naming d.
    RoundPlan.requireFeasible(model, mode, expectedWorkers, rank);
    new io.orthoslice.common.round.OuterNesterov(outerLr, outerMomentum); // validates both
  }

  /** The method a worker trains with: adapters on its slice, or full rank; never a merge inside a round. */
  public static MethodSpec workerMethod(RoundMode mode, int rank, double scale) {
    return mode.projected()
        ? new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", rank, Integer.MAX_VALUE,
            MethodSpec.StatePolicy.RESET, MethodSpec.Optimizer.ADAMW, "fp32", scale)
        : new MethodSpec(MethodSpec.Method.FULL, "orthogonal", 0, Integer.MAX_VALUE,
            MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", scale);
  }

  public long windowsPerStep() {
    return (long) train.microBatch() * train.gradAccum();
  }

  /** The adapter scale alpha. */
  public double alpha() {
    return train.method().scale();
  }
}
