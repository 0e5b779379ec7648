package io.orthoslice.common.wire;

import io.orthoslice.common.config.RoundRules;

/**
 * One worker's part of a round, or the end of the run ({@link #FINISHED}).
 *
 * @param runSeed the run's seed, from which (with the projection draw) every slice is rebuilt
 * @param globalStep the optimizer step the round starts at: the learning-rate schedule is evaluated
 *     at globalStep .. globalStep + localSteps - 1
 * @param dataPosition first training window of this slot: cursor + slot x H x windowsPerStep
 * @param sliceChecksum {@code RoundPlan.checksum(slot)}: the worker refuses to train on a mismatch
 * @param projectionDraw the draw the round's projections derive from ({@code RoundRules.draw})
 */
public record Assignment(
    boolean finished,
    long round,
    int participants,
    int slot,
    long runSeed,
    int localSteps,
    long weightsVersion,
    long globalStep,
    long dataPosition,
    int sliceChecksum,
    long deadlineUnixMs,
    long projectionDraw) {

  public static final Assignment FINISHED = new Assignment(true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
