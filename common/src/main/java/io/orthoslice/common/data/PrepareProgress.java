package io.orthoslice.common.data;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * What {@link PrepareData} has read and written so far: input bytes (as stored, compressed),
 * documents and tokens. With a bar (me.tongfei:progressbar) it also draws them on a terminal with
 * the rates; quiet, it only counts, so that tests and CI logs are not flooded with redraws.
 */
public final class PrepareProgress implements AutoCloseable {

  /** The bar redraws itself on its own thread; the message need not change faster than that. */
  private static final long MESSAGE_EVERY_NANOS = 250_000_000L;

  private final ProgressBar bar;
  private final long startNanos = System.nanoTime();
  private long lastMessageNanos;
  private long bytes;
  private long documents;
  private long tokens;
  private boolean closed;
  private long endNanos;

  private PrepareProgress(ProgressBar bar) {
    this.bar = bar;
  }

  /** Counts without drawing anything. */
  public static PrepareProgress quiet() {
    return new PrepareProgress(null);
  }

  /** A bar on {@code terminal} whose end is {@code totalBytes} of input (-1 when unknown). */
  public static PrepareProgress bar(long totalBytes, PrintStream terminal) {
    return new PrepareProgress(
        new ProgressBarBuilder()
            .setTaskName("prepare")
            .setInitialMax(totalBytes)
            .setUnit(" MiB", 1 << 20)
            .showSpeed()
            .setStyle(ProgressBarStyle.ASCII)
            .setUpdateIntervalMillis(500)
            // Redraw on the clock too: a Parquet row group can take seconds between byte reports.
            .continuousUpdate()
            .setConsumer(new ConsoleProgressBarConsumer(terminal))
            .build());
  }

  /**
   * Whether standard error is a terminal (on Linux through /proc, elsewhere as the console is) and
   * this is not CI: only then does a redrawing bar belong there.
   */
  public static boolean stderrIsTerminal() {
    if (System.getenv("CI") != null) {
      return false;
    }
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return System.console() != null;
    }
  }

  void bytesRead(long n) {
    bytes += n;
  }

  void document(long documentTokens) {
    documents++;
    tokens += documentTokens;
    if (bar != null) {
      long now = System.nanoTime();
      if (now - lastMessageNanos >= MESSAGE_EVERY_NANOS) {
        lastMessageNanos = now;
        bar.stepTo(bytes);
        bar.setExtraMessage(message());
      }
    }
  }

  public long bytes() {
    return bytes;
  }

  public long documents() {
    return documents;
  }

  public long tokens() {
    return tokens;
  }

  /** Seconds from creation until now, or until closed. */
  public double seconds() {
    return ((closed ? endNanos : System.nanoTime()) - startNanos) / 1e9;
  }

  public double tokensPerSecond() {
    return tokens / Math.max(seconds(), 1e-9);
  }

  /** Stops the clock and ends the bar at the final counts; closing again does nothing. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    endNanos = System.nanoTime();
    if (bar != null) {
      bar.stepTo(bytes);
      bar.setExtraMessage(message());
      bar.close();
    }
  }

  private String message() {
    double seconds = Math.max(seconds(), 1e-9);
    return String.format(
        Locale.ROOT,
        " %,d docs (%,.0f/s) %,d tokens (%,.0f/s)",
        documents,
        documents / seconds,
        tokens,
        tokens / seconds);
  }
}
