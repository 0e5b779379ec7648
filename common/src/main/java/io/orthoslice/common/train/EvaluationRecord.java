package io.orthoslice.common.train;

/**
 * What {@code train} appends to {@link RunFiles#EVALUATIONS} at each evaluation: the validation loss and the
 * interval since the previous record (or the run's start), so a report can draw the loss and where the time
 * went while the run is still going.
 *
 * @param step the optimizer step after which it evaluated
 * @param tokens tokens trained up to that step
 * @param trainLoss mean of the interval's finite step losses (NaN when none was finite)
 * @param validationLoss after that step
 * @param stepSeconds the interval's training steps (forward, backward, optimizer step)
 * @param evalSeconds this evaluation
 * @param checkpointSeconds the checkpoints written in the interval, one after this step included
 * @param seconds the interval's wall-clock seconds: all of the above and the rest (batches, logging)
 */
public record EvaluationRecord(long step, long tokens, double trainLoss, double validationLoss, double stepSeconds,
    double evalSeconds, double checkpointSeconds, double seconds) {}
