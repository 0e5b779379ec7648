package io.orthoslice.common.round;

/**
 * The headline figure of the bandwidth promise: bytes a worker moves per token it trains, set against
 * synchronous data parallel on the same workers. The formula is written here and nowhere else:
 *
 * <pre>
 *   ours    = (upload + download) / tokens          per worker and round: its update, what it fetches of
 *                                                   the merge (the round update when the merge has one,
 *                                                   as the default --fetch update does, else the weights),
 *                                                   and the tokens it trained on in the round
 *   sync DP = 2 x 2 (K - 1) / K x P x b / t         a ring all-reduce of the P-parameter gradient every step
 *                                                   sends 2 (K-1)/K P b bytes per worker and receives as
 *                                                   many, at b bytes per value (4 for fp32 training, 2 for
 *                                                   fp16), for t tokens per worker per step
 *   reduction = sync DP / ours                      ("N x fewer bytes per trained token")
 * </pre>
 *
 * With one worker data parallel moves nothing: its figure is 0 and the reduction NaN.
 */
public final class CommunicationCost {

  private CommunicationCost() {}

  /** {@code ours}: bytes moved (sent plus received) per token trained; NaN with no token. */
  public static double perToken(long uploadBytes, long downloadBytes, long tokens) {
    return tokens <= 0 ? Double.NaN : (double) (uploadBytes + downloadBytes) / tokens;
  }

  /** {@code sync DP}: what a ring all-reduce of the gradient moves per worker per trained token. */
  public static double syncDataParallelPerToken(long parameters, int workers, int bytesPerValue,
      long tokensPerStep) {
    if (workers < 1 || tokensPerStep < 1 || bytesPerValue < 1 || parameters < 0) {
      throw new IllegalArgumentException("workers, tokens per step and bytes per value must be >= 1, parameters >= 0");
    }
    return 2.0 * 2.0 * (workers - 1) / workers * parameters * bytesPerValue / tokensPerStep;
  }

  /** How many times fewer bytes per trained token than synchronous data parallel. */
  public static double reduction(double ours, double syncDataParallel) {
    return ours > 0 && syncDataParallel > 0 ? syncDataParallel / ours : Double.NaN;
  }
}
