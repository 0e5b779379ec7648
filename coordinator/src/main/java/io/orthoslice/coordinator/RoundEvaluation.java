package io.orthoslice.coordinator;

import io.orthoslice.common.round.CommunicationCost;
import io.orthoslice.common.config.Precision;

import java.util.List;

/**
 * After a merge: the round's {@link RoundResult}, then the validation loss of the new weights (timed;
 * every {@code --eval-every} rounds and after the last, NaN in between; a round that merged nothing
 * keeps the previous loss), and whether a checkpoint is due (every {@code --checkpoint-every} rounds
 * and after the last one). The driver evaluates after it has opened the next round, so validation
 * costs a round only while its workers wait for it.
 */
final class RoundEvaluation {

  private final RunSettings settings;
  private final ValidationLoss validation;

  RoundEvaluation(RunSettings settings, ValidationLoss validation) {
    this.settings = settings;
    this.validation = validation;
  }

  double evaluate(WeightsSnapshot w) {
    return validation.of(w);
  }

  /**
   * Describes the round, its validation loss not yet known (NaN; see {@link #validated}); its seconds
   * end now, when the merge is published.
   *
   * @param fetchBytes what a worker fetches of the merge: its round update when {@code roundUpdate},
   *     else the weights
   */
  RoundResult result(OpenRound r, List<Submission> subs, WeightsSnapshot after, long fetchBytes,
      boolean roundUpdate, double mergeSeconds) {
    double val = Double.NaN;
    double evalSeconds = 0;
    List<Integer> slots = subs.stream().map(Submission::slot).toList();
    long upload = (long) subs.stream().mapToLong(Submission::bytes).average().orElse(0);
    long download = fetchBytes;
    long tokens = (long) subs.stream().mapToLong(Submission::tokens).average().orElse(0);
    long parameters = after.parameters();
    double syncDp = CommunicationCost.syncDataParallelPerToken(parameters, r.participants.size(),
        settings.train().precision() == Precision.FP32 ? Float.BYTES : 2, settings.train().tokensPerStep());
    return new RoundResult(r.round, r.participants.size(), slots, after.version(),
        subs.stream().mapToDouble(Submission::meanLoss).average().orElse(Double.NaN), val, upload, after.bytes(),
        roundUpdate ? fetchBytes : 0, mergeSeconds, evalSeconds,
        subs.stream().mapToDouble(s -> s.report().fetchSeconds()).max().orElse(0),
        subs.stream().mapToDouble(s -> s.report().trainSeconds()).max().orElse(0),
        (System.nanoTime() - r.openedNanos) / 1e9, CommunicationCost.perToken(upload, download, tokens), syncDp,
        subs.stream().mapToLong(Submission::tokens).sum());
  }

  /**
   * What the validation of {@code after} needs, taken now, while its device still holds it; null when
   * no evaluation is due (every {@code --eval-every} rounds and after the last) or nothing merged.
   */
  ValidationLoss.Pass prepare(RoundResult result, WeightsSnapshot after) {
    boolean due = lastRound(result.round()) || (result.round() + 1) % settings.evalEvery() == 0;
    return result.mergedSlots().isEmpty() || !due ? null : validation.prepare(after);
  }

  /**
   * {@code result} with its validation loss: {@code pass}'s, timed, with {@code prepareSeconds} (NaN
   * when none was due); a round that merged nothing keeps {@code previousLoss}.
   */
  RoundResult validated(RoundResult result, ValidationLoss.Pass pass, double prepareSeconds, double previousLoss) {
    long t1 = System.nanoTime();
    double val = result.mergedSlots().isEmpty() ? previousLoss : pass != null ? pass.loss() : Double.NaN;
    return result.withValidation(val, prepareSeconds + (System.nanoTime() - t1) / 1e9);
  }

  boolean lastRound(long round) {
    return round + 1 == settings.rounds();
  }

  boolean checkpointDue(long round) {
    return lastRound(round) || settings.checkpointEvery() > 0 && (round + 1) % settings.checkpointEvery() == 0;
  }
}
