package io.orthoslice.common.train;

import java.io.IOException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code train}'s {@link RunFiles#EVALUATIONS}: sums the steps and checkpoints of the interval since the last
 * evaluation and appends an {@link EvaluationRecord} at the next one. Not thread-safe: the training loop's
 * thread calls it.
 */
final class EvaluationLog {

  private static final Logger LOG = LoggerFactory.getLogger(EvaluationLog.class);
  private final Path file;
  private long intervalStart = System.nanoTime();
  private double stepSeconds;
  private double checkpointSeconds;
  private double lossSum;
  private int finiteLosses;

  EvaluationLog(Path runDir) {
    this.file = runDir.resolve(RunFiles.EVALUATIONS);
  }

  void step(double loss, double seconds) {
    stepSeconds += seconds;
    if (Double.isFinite(loss)) {
      lossSum += loss;
      finiteLosses++;
    }
  }

  void checkpoint(double seconds) {
    checkpointSeconds += seconds;
  }

  /** Appends the interval that ends with this evaluation and starts the next. */
  void evaluated(long step, long tokens, double validationLoss, double evalSeconds) {
    long now = System.nanoTime();
    EvaluationRecord r = new EvaluationRecord(step, tokens, finiteLosses == 0 ? Double.NaN : lossSum / finiteLosses,
        validationLoss, stepSeconds, evalSeconds, checkpointSeconds, (now - intervalStart) / 1e9);
    try {
      RunFiles.append(file, r);
    } catch (IOException e) {
      // Unlike a checkpoint the record is not needed to continue the run: a warning, not the run's end.
      LOG.warn("step {} is missing from {}: {}", step, file, e.toString());
    }
    intervalStart = now;
    stepSeconds = 0;
    checkpointSeconds = 0;
    lossSum = 0;
    finiteLosses = 0;
  }
}
