package io.orthoslice.worker.sweep;

import java.util.List;

/**
 * What one cell's run produced, as one line of the sweep's {@code cells.jsonl}.
 *
 * @param status "ok", or "failed" (the run stopped: a diverged loss, say); a failed cell counts as
 *     infinitely bad when a learning rate is picked
 * @param perplexityByRound validation perplexity after each round
 * @param tokens training tokens of all workers together
 * @param bytesPerRoundPerWorker mean of one worker's upload plus the broadcast it received, per round
 */
public record CellResult(SweepCell cell, String status, String error, double initialPerplexity,
    List<Double> perplexityByRound, long tokens, double bytesPerRoundPerWorker, double seconds, String runDir) {

  public boolean ok() {
    return status.equals("ok");
  }

  /** The final validation perplexity; +infinity for a failed run. */
  public double finalPerplexity() {
    return ok() && !perplexityByRound.isEmpty() ? perplexityByRound.get(perplexityByRound.size() - 1)
        : Double.POSITIVE_INFINITY;
  }
}
