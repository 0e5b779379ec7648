package io.orthoslice.coordinator;

import io.orthoslice.common.round.CommunicationCost;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Locale;

/**
 * What one round did, for the progress view, the run summary and the tests.
 *
 * @param mergedSlots the slots whose updates were merged (all of 0..participants-1 when nobody was late)
 * @param meanLoss mean of the merged workers' mean training losses (NaN when none arrived)
 * @param validationLoss after the merge (NaN when not evaluated)
 * @param uploadBytesPerWorker mean data bytes of one merged update
 * @param fullBroadcastBytes data bytes of the whole weights a stale worker fetches
 * @param updateBroadcastBytes data bytes of the round update a worker one version behind fetches: every
 *     parameter's change in the run's wire precision (0 when none exists)
 * @param fetchSeconds the slowest merged worker's fetch of this round's weights (the broadcast of
 *     the previous merge; 0 when every worker already held them)
 * @param trainSeconds the slowest merged worker's local training
 * @param roundSeconds from this round's opening to the next round's, on the coordinator: to its merge's
 *     publication when rounds are synchronous, to its last update with overlap (the merge and the
 *     validation run while the next round trains)
 * @param bytesPerToken what a worker moved per token it trained this round (update plus its fetch of
 *     the merge: {@link CommunicationCost#perToken})
 * @param syncDpBytesPerToken what synchronous data parallel on the same workers would move
 *     ({@link CommunicationCost#syncDataParallelPerToken})
 * @param tokens what the merged workers trained on this round, all of them together (0 in a summary.json
 *     written before this was recorded)
 */
public record RoundResult(
    long round,
    int participants,
    List<Integer> mergedSlots,
    long version,
    double meanLoss,
    double validationLoss,
    long uploadBytesPerWorker,
    long fullBroadcastBytes,
    long updateBroadcastBytes,
    double mergeSeconds,
    double evalSeconds,
    double fetchSeconds,
    double trainSeconds,
    double roundSeconds,
    double bytesPerToken,
    double syncDpBytesPerToken,
    long tokens) {

  /** This result with its round's seconds: from its opening to the next round's (to its merge when last). */
  public RoundResult withRoundSeconds(double seconds) {
    return new RoundResult(round, participants, mergedSlots, version, meanLoss, validationLoss, uploadBytesPerWorker,
        fullBroadcastBytes, updateBroadcastBytes, mergeSeconds, evalSeconds, fetchSeconds, trainSeconds, seconds,
        bytesPerToken, syncDpBytesPerToken, tokens);
  }

  /** This result with its validation loss and the seconds its evaluation took. */
  public RoundResult withValidation(double loss, double seconds) {
    return new RoundResult(round, participants, mergedSlots, version, meanLoss, loss, uploadBytesPerWorker,
        fullBroadcastBytes, updateBroadcastBytes, mergeSeconds, seconds, fetchSeconds, trainSeconds, roundSeconds,
        bytesPerToken, syncDpBytesPerToken, tokens);
  }

  /** How many times fewer bytes per trained token than synchronous data parallel (NaN with one worker). */
  public double reductionVsSyncDp() {
    return CommunicationCost.reduction(bytesPerToken, syncDpBytesPerToken);
  }

  /**
   * Round efficiency, the figure a distributed trainer is judged by: the slowest merged worker's
   * training seconds over the round's seconds on the coordinator (its opening to the next one's). 1
   * means the round cost nothing beside training; NaN when no update was merged.
   */
  @JsonProperty("roundEfficiency")
  public double roundEfficiency() {
    return mergedSlots.isEmpty() || !(roundSeconds > 0) ? Double.NaN : trainSeconds / roundSeconds;
  }

  public double validationPerplexity() {
    return Math.exp(validationLoss);
  }

  /** The progress view's line; the launcher shows it as is. */
  public String line(int totalRounds) {
    return String.format(Locale.ROOT,
        "round %d/%d: merged %d/%d slots, mean worker loss %.4f, validation perplexity %s,"
            + " upload %s/worker, broadcast full %s update %s, %.1f B/token (%s fewer than sync DP);"
            + " fetch %.3f s, train %.2f s, merge %.3f s, eval %.3f s, round %.2f s (training %s of it)",
        round + 1, totalRounds, mergedSlots.size(), participants, meanLoss,
        Double.isNaN(validationLoss) ? "-" : String.format(Locale.ROOT, "%.2f", validationPerplexity()),
        human(uploadBytesPerWorker), human(fullBroadcastBytes), human(updateBroadcastBytes), bytesPerToken,
        Double.isNaN(reductionVsSyncDp()) ? "-" : String.format(Locale.ROOT, "%.0fx", reductionVsSyncDp()), fetchSeconds,
        trainSeconds, mergeSeconds, evalSeconds, roundSeconds,
        Double.isNaN(roundEfficiency()) ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * roundEfficiency()));
  }

  static String human(long b) {
    if (b >= 1 << 20) {
      return String.format(Locale.ROOT, "%.2f MiB", b / (double) (1 << 20));
    }
    return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
  }
}
