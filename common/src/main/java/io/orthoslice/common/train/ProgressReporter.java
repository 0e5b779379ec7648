package io.orthoslice.common.train;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training progress: a progress bar (me.tongfei:progressbar: steps, ETA, the last loss and lr) when
 * stdout is a terminal, plain log lines every {@code logEvery} steps otherwise (CI, files, the
 * multi-process launcher). Closing it ends the bar.
 */
public final class ProgressReporter implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ProgressReporter.class);

  private final long totalSteps;
  private final long tokensPerStep;
  private final int logEvery;
  private final boolean terminal;
  private final PrintStream out;
  private final long startNanos = System.nanoTime();
  private long firstStep = -1;
  private ProgressBar bar;

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
    if (terminal) {
      if (bar == null) { // a resumed run starts its bar at the checkpoint's step
        bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(totalSteps).setUnit(" steps", 1)
            .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(out))
            .startsFrom(firstStep, Duration.ZERO).build();
      }
      bar.stepTo(s.step());
      bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f lr %.2e %,.0f tok/s%s", s.loss(), s.lr(),
          tokensPerSec, s.skipped() ? " (skipped: fp16 overflow)" : ""));
      if (s.step() == totalSteps) {
        close();
      }
    } else if (s.step() % logEvery == 0 || s.step() == totalSteps || s.step() == firstStep + 1) {
      double eta = (totalSteps - s.step()) * elapsed / Math.max(done, 1);
      LOG.info(String.format(Locale.ROOT,
          "step %d/%d loss %.4f grad_norm %.3f lr %.3e tokens/s %.0f eta %s%s", s.step(), totalSteps,
          s.loss(), s.gradNorm(), s.lr(), tokensPerSec, duration(eta), s.skipped() ? " skipped=fp16-overflow" : ""));
    }
  }

  /** Messages between steps (evaluation, checkpoints): logged; the bar redraws below them. */
  public void message(String text) {
    LOG.info(text);
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60)
        : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }
}
