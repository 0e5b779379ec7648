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
 * @param bytesPerToken bytes a worker moved per token it trained ({@code CommunicationCost.perToken});
 *     0 when unknown (a line written before the figure existed and whose run summary is gone)
 * @param reductionVsSyncDp how many times fewer bytes per trained token than synchronous data
 *     parallel ({@code CommunicationCost.reduction}); 0 when unknown
 */
public record CellResult(SweepCell cell, String status, String error, double initialPerplexity,
    List<Double> perplexityByRound, long tokens, double bytesPerRoundPerWorker, double seconds, String runDir,
    double bytesPerToken, double reductionVsSyncDp) {

  public CellResult(SweepCell cell, String status, String error, double initialPerplexity,
      List<Double> perplexityByRound, long tokens, double bytesPerRoundPerWorker, double seconds, String runDir) {
    this(cell, status, error, initialPerplexity, perplexityByRound, tokens, bytesPerRoundPerWorker, seconds, runDir,
        0, 0);
  }

  /** This result with its communication figures. */
  public CellResult withCommunication(double perToken, double reduction) {
    return new CellResult(cell, status, error, initialPerplexity, perplexityByRound, tokens, bytesPerRoundPerWorker,
        seconds, runDir, perToken, reduction);
  }

  public boolean ok() {
    return status.equals("ok");
  }

  /** The final validation perplexity; +infinity for a failed run. */
  public double finalPerplexity() {
    return ok() && !perplexityByRound.isEmpty() ? perplexityByRound.get(perplexityByRound.size() - 1)
        : Double.POSITIVE_INFINITY;
  }
}
