package io.orthoslice.common.train;

import io.orthoslice.common.config.Precision;
import io.orthoslice.common.data.TokenWindows;
import java.util.function.IntToDoubleFunction;

/**
 * The one step loop of every command that trains: {@code train}'s whole run, a worker's H local
 * steps of a round, and {@code bench}'s measured steps. Step i reads its windows at {@code firstWindow
 * + i x windowsPerStep} of the training order, trains at the schedule's rate times {@code lrFactor(i)},
 * and hands the caller what it did; the caller evaluates, checkpoints, logs or times after it.
 *
 * <p>One rule for a non-finite loss, here: in fp32 and fp64 it stops the run at once (nothing can
 * recover it, and the last checkpoint is kept); in fp16 the loss scaler skips a step whose values
 * overflowed, so up to {@link #FP16_NON_FINITE_STREAK} non-finite losses in a row are let through
 * while the scale falls, and one more stops the run.
 */
public final class TrainingLoop {

  /**
   * Consecutive non-finite fp16 losses tolerated: the loss scale halves on each, so ten take it down
   * by 2^10, far past any overflow a healthy run meets (it recovers in one or two).
   */
  public static final int FP16_NON_FINITE_STREAK = 10;

  /** What the caller does after step {@code i} (0-based within this call), which took {@code seconds}. */
  @FunctionalInterface
  public interface AfterStep {
    void accept(int i, Trainer.StepStats stats, double seconds);
  }

  /** What a call trained: its mean loss over the finite steps, and how many steps ran. */
  public record Result(double meanLoss, int steps, double seconds) {}

  private TrainingLoop() {}

  /**
   * Trains {@code steps} steps from the trainer's current step.
   *
   * @param lrFactor the factor on the schedule's rate at step i (a round's warm-up; 1 elsewhere)
   * @throws IllegalStateException when the loss stays non-finite (the rule above)
   */
  public static Result run(Trainer trainer, TokenWindows data, long firstWindow, int windowsPerStep, int steps,
      IntToDoubleFunction lrFactor, AfterStep after) {
    Precision precision = trainer.config().precision();
    double lossSum = 0;
    int finite = 0;
    int streak = 0;
    long start = System.nanoTime();
    for (int i = 0; i < steps; i++) {
      long[] batch = data.trainBatch(firstWindow + (long) i * windowsPerStep, windowsPerStep);
      long t0 = System.nanoTime();
      Trainer.StepStats s = trainer.step(batch, lrFactor.applyAsDouble(i));
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (Double.isFinite(s.loss())) {
        streak = 0;
        lossSum += s.loss();
        finite++;
      } else if (precision != Precision.FP16 || ++streak > FP16_NON_FINITE_STREAK) {
        throw new IllegalStateException("loss became " + s.loss() + " at step " + s.step()
            + (precision == Precision.FP16 ? " (" + streak + " steps in a row)" : "")
            + "; lower --lr or enable --grad-clip");
      }
      after.accept(i, s, seconds);
    }
    return new Result(finite == 0 ? Double.NaN : lossSum / finite, steps, (System.nanoTime() - start) / 1e9);
  }

  /** {@link #run} at the schedule's own rate. */
  public static Result run(Trainer trainer, TokenWindows data, long firstWindow, int windowsPerStep, int steps,
      AfterStep after) {
    return run(trainer, data, firstWindow, windowsPerStep, steps, i -> 1.0, after);
  }
}
