package io.orthoslice.common.train;

import java.io.PrintStream;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training progress: a single redrawn bar (loss, tokens/s, ETA) when stdout is a terminal, plain
 * log lines every {@code logEvery} steps otherwise (CI, files, the multi-process launcher).
 */
public final class ProgressReporter {

  private static final Logger LOG = LoggerFactory.getLogger(ProgressReporter.class);

  private final long totalSteps;
  private final long tokensPerStep;
  private final int logEvery;
  private final boolean terminal;
  private final PrintStream out;
  private final long startNanos = System.nanoTime();
  private long firstStep = -1;

  public ProgressReporter(long totalSteps, long tokensPerStep, int logEvery, boolean terminal, PrintStream out) {
    this.totalSteps = totalSteps;
    this.tokensPerStep = tokensPerStep;
    this.logEvery = Math.max(1, logEvery);
    this.terminal = terminal;
    this.out = out;
  }

  public static boolean stdoutIsTerminal() {
    return System.console() != null && System.getenv("CI") == null;
  }

  public void onStep(Trainer.StepStats s) {
    if (firstStep < 0) {
      firstStep = s.step() - 1;
    }
    double elapsed = (System.nanoTime() - startNanos) / 1e9;
    long done = s.step() - firstStep;
    double tokensPerSec = done * tokensPerStep / Math.max(elapsed, 1e-9);
    double eta = (totalSteps - s.step()) * elapsed / Math.max(done, 1);
    if (terminal) {
      int width = 30;
      int filled = (int) (width * s.step() / totalSteps);
      out.printf(Locale.ROOT, "\r[%s%s] %d/%d loss %.4f lr %.2e %,.0f tok/s ETA %s%s",
          "=".repeat(filled), " ".repeat(width - filled), s.step(), totalSteps, s.loss(), s.lr(),
          tokensPerSec, duration(eta), s.skipped() ? " (skipped: fp16 overflow)" : "");
      out.flush();
      if (s.step() == totalSteps) {
        out.println();
      }
    } else if (s.step() % logEvery == 0 || s.step() == totalSteps || s.step() == firstStep + 1) {
      LOG.info(String.format(Locale.ROOT,
          "step %d/%d loss %.4f grad_norm %.3f lr %.3e tokens/s %.0f eta %s%s", s.step(), totalSteps,
          s.loss(), s.gradNorm(), s.lr(), tokensPerSec, duration(eta), s.skipped() ? " skipped=fp16-overflow" : ""));
    }
  }

  /** Messages between steps (evaluation, checkpoints) must not be glued to the bar. */
  public void message(String text) {
    if (terminal) {
      out.print("\r\033[K");
      out.flush();
    }
    LOG.info(text);
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60)
        : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }
}
