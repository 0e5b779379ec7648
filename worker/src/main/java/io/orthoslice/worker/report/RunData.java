package io.orthoslice.worker.report;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A run directory as {@code orthoslice report} draws it: what kind of run, how far it got, its settings, and
 * one point per merged round (a distributed run) or per evaluation ({@code train}). NaN marks what the files
 * do not hold.
 *
 * @param dir the directory the report is of
 * @param kind which command made it
 * @param status one line: finished, stopped or in progress, and how far
 * @param facts headline figures by name, in the order shown
 * @param config the run's settings, nested objects flattened to dotted names
 * @param initialValidationLoss of the starting weights (NaN when not on disk)
 * @param points in order of {@link Point#index}
 * @param missing what some charts need and the files lack, as sentences for the page (empty when nothing)
 */
record RunData(Path dir, Kind kind, String status, Map<String, String> facts, Map<String, Object> config,
    double initialValidationLoss, List<Point> points, List<String> missing) {

  /** The command whose run directory this is. */
  enum Kind {
    LAUNCH("launch"),
    COORDINATOR("coordinator"),
    TRAIN("train");

    final String command;

    Kind(String command) {
      this.command = command;
    }

    /** Rounds of a coordinator and its workers, as against one process's steps. */
    boolean distributed() {
      return this != TRAIN;
    }

    /** What one point is: a round or an evaluation after a step. */
    String unit() {
      return distributed() ? "round" : "step";
    }
  }

  /**
   * One merged round, or the interval of steps that ends with an evaluation.
   *
   * @param index the round (1-based) or the step
   * @param tokens trained up to its end, by all workers (0 when the files do not say)
   * @param validationLoss after it
   * @param trainLoss the mean training loss of its steps (a round: of every merged worker)
   * @param time where its seconds went, part by part, in stacking order; the parts sum to {@code seconds}
   * @param seconds its wall-clock seconds (a round: from its opening to the next round's)
   * @param evalSeconds its validation pass (a round's runs while the next round trains: not in {@code time})
   * @param uploadBytes what one worker sent (its update)
   * @param fetchBytes what one worker fetched of the merge (the round's update, or the weights)
   * @param bytesPerToken what one worker moved per token it trained
   * @param syncDpBytesPerToken what synchronous data parallel would move on as many workers
   * @param participants workers the round was opened for
   * @param merged workers whose updates it merged
   * @param efficiency the slowest merged worker's training seconds over the round's seconds
   */
  record Point(long index, long tokens, double validationLoss, double trainLoss, LinkedHashMap<String, Double> time,
      double seconds, double evalSeconds, double uploadBytes, double fetchBytes, double bytesPerToken, double syncDpBytesPerToken,
      int participants, int merged, double efficiency) {}
}
