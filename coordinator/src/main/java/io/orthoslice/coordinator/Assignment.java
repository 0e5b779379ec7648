package io.orthoslice.coordinator;

/**
 * One worker's part of a round, or the end of the run ({@link #FINISHED}).
 *
 * @param dataPosition first training window of this slot: cursor + slot x H x windowsPerStep
 * @param sliceChecksum {@code RoundPlan.checksum(slot)}
 * @param projectionDraw the draw the round's projections derive from ({@code RoundRules.draw})
 */
public record Assignment(
    boolean finished,
    long round,
    int participants,
    int slot,
    long roundSeed,
    int localSteps,
    long weightsVersion,
    long globalStep,
    long dataPosition,
    int sliceChecksum,
    long deadlineUnixMs,
    long projectionDraw) {

  public static final Assignment FINISHED = new Assignment(true, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
