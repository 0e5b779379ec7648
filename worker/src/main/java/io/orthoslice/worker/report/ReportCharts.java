package io.orthoslice.worker.report;

import io.orthoslice.worker.plot.Charts;
import io.orthoslice.worker.report.RunData.Point;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;

/**
 * The report's figures, each a PNG or, where the run's files do not hold what it needs, a sentence saying so:
 * validation perplexity and loss against rounds (steps) and tokens, where each round's time went, bytes per
 * round and per token, workers over time, and round efficiency.
 */
final class ReportCharts {

  /** A figure: its title and either the PNG or why there is none. */
  record Figure(String title, byte[] png, String caption) {
    boolean drawn() {
      return png != null;
    }
  }

  static final int WIDTH = 760;
  static final int HEIGHT = 440;

  private ReportCharts() {}

  static List<Figure> draw(RunData d) throws IOException {
    String unit = d.kind().unit();
    List<Point> points = d.points();
    List<Figure> out = new ArrayList<>();
    boolean anyValidation = points.stream().anyMatch(p -> Double.isFinite(p.validationLoss()));
    boolean tokens = points.stream().anyMatch(p -> p.tokens() > 0);
    String none = points.isEmpty() ? "No " + unit + " is recorded yet." : "No validation loss is recorded yet.";
    for (boolean againstTokens : new boolean[] {false, true}) {
      String x = againstTokens ? "tokens trained" : unit;
      String title = "Validation perplexity against " + x;
      if (!anyValidation) {
        out.add(new Figure(title, null, none));
      } else if (againstTokens && !tokens) {
        out.add(new Figure(title, null, "The records hold no token counts."));
      } else {
        XYChart c = Charts.xy(title, x, "validation perplexity", WIDTH, HEIGHT);
        c.getStyler().setYAxisDecimalPattern("0.##").setXAxisDecimalPattern("#,##0");
        line(c, "validation perplexity", d, againstTokens, p -> Math.exp(p.validationLoss()),
            Math.exp(d.initialValidationLoss()));
        out.add(new Figure(title, Charts.png(c), (d.kind().distributed() ? "After each evaluated round's merge"
            : "At each evaluation (every --eval-every steps)") + (Double.isFinite(d.initialValidationLoss())
            ? "; 0 is the starting weights." : ".")));
      }
    }
    for (boolean againstTokens : new boolean[] {false, true}) {
      String x = againstTokens ? "tokens trained" : unit;
      String title = "Loss against " + x;
      if (points.isEmpty()) {
        out.add(new Figure(title, null, none));
      } else if (againstTokens && !tokens) {
        out.add(new Figure(title, null, "The records hold no token counts."));
      } else {
        XYChart c = Charts.xy(title, x, "loss (nats per token)", WIDTH, HEIGHT);
        c.getStyler().setYAxisDecimalPattern("0.###").setXAxisDecimalPattern("#,##0");
        line(c, d.kind().distributed() ? "training (mean of the merged workers)" : "training (mean since the last)",
            d, againstTokens, RunData.Point::trainLoss, Double.NaN);
        if (anyValidation) {
          line(c, "validation", d, againstTokens, RunData.Point::validationLoss, d.initialValidationLoss());
        }
        out.add(new Figure(title, Charts.png(c), d.kind().distributed()
            ? "Training loss: the mean over a round's local steps of the workers it merged."
            : "Training loss: the mean of the steps since the previous evaluation."));
      }
    }
    out.add(timeSplit(d));
    if (!d.kind().distributed()) {
      out.add(new Figure("Bytes, workers and round efficiency", null, "A train run is one process: it moves no bytes"
          + " between processes and has no workers and no rounds."));
      return out;
    }
    out.add(bytesPerRound(d));
    out.add(bytesPerToken(d));
    out.add(workers(d));
    out.add(efficiency(d));
    return out;
  }

  /** Stacked bars, one per round (evaluation interval): the parts of its seconds. */
  private static Figure timeSplit(RunData d) throws IOException {
    String unit = d.kind().unit();
    String title = d.kind().distributed() ? "Where each round's time went" : "Where the time went between evaluations";
    if (d.points().isEmpty()) {
      return new Figure(title, null, "No " + unit + " is recorded yet.");
    }
    CategoryChart c = Charts.bars(title, unit, "seconds", WIDTH, HEIGHT, true);
    c.getStyler().setXAxisMaxLabelCount(20);
    List<Long> x = d.points().stream().map(Point::index).toList();
    for (String part : d.points().get(0).time().keySet()) {
      c.addSeries(part, x, d.points().stream().map(p -> p.time().get(part)).toList());
    }
    String caption = d.kind().distributed()
        ? "Fetch and train: the slowest merged worker's (they may be two workers, so the parts can exceed the"
            + " round a little); merge: the coordinator's; the rest is the round's other seconds (uploads, waiting for"
            + " the slowest). The validation pass runs while the next round trains, so it is not a part of any round"
            + " (its seconds are in the table)."
            + (Boolean.parseBoolean(String.valueOf(d.config().get("overlap")))
                ? " With --overlap the merge, too, runs while the next round trains." : "")
        : "Steps: forward, backward and optimizer; the rest: reading batches and logging.";
    return new Figure(title, Charts.png(c), caption);
  }

  private static Figure bytesPerRound(RunData d) throws IOException {
    String title = "Bytes a worker moved per round";
    if (d.points().isEmpty()) {
      return new Figure(title, null, "No round is recorded yet.");
    }
    CategoryChart c = Charts.bars(title, "round", "MiB", WIDTH, HEIGHT, true);
    c.getStyler().setXAxisMaxLabelCount(20);
    List<Long> x = d.points().stream().map(Point::index).toList();
    c.addSeries("sent (its update)", x, d.points().stream().map(p -> p.uploadBytes() / (1 << 20)).toList());
    c.addSeries("fetched (the merge)", x, d.points().stream().map(p -> p.fetchBytes() / (1 << 20)).toList());
    return new Figure(title, Charts.png(c), "Data bytes of one merged worker's update and of its fetch of the merged"
        + " round (the round's change when there is one, else the weights).");
  }

  private static Figure bytesPerToken(RunData d) throws IOException {
    String title = "Bytes per trained token";
    if (d.points().stream().noneMatch(p -> p.bytesPerToken() > 0)) {
      return new Figure(title, null, d.points().isEmpty() ? "No round is recorded yet." : "No round records bytes per"
          + " token.");
    }
    XYChart c = Charts.xy(title, "round", "bytes per token (log)", WIDTH, HEIGHT);
    c.getStyler().setYAxisLogarithmic(true).setLegendPosition(Styler.LegendPosition.OutsideS);
    line(c, "this run (a worker's update and fetch)", d, false, Point::bytesPerToken, Double.NaN);
    if (d.points().stream().anyMatch(p -> p.syncDpBytesPerToken() > 0)) {
      line(c, "synchronous data parallel (ring all-reduce every step)", d, false, Point::syncDpBytesPerToken,
          Double.NaN);
    }
    return new Figure(title, Charts.png(c), "Per worker: (sent + fetched) / tokens it trained in the round, against"
        + " what a ring all-reduce of the gradient every step would move (none with one worker).");
  }

  private static Figure workers(RunData d) throws IOException {
    String title = "Workers over time";
    if (d.points().isEmpty()) {
      return new Figure(title, null, "No round is recorded yet.");
    }
    XYChart c = Charts.xy(title, "seconds of rounds", "workers", WIDTH, HEIGHT);
    c.getStyler().setYAxisMin(0.0).setYAxisDecimalPattern("0").setLegendPosition(Styler.LegendPosition.InsideSE);
    int n = d.points().size();
    double[] t = new double[n + 1];
    double[] opened = new double[n + 1];
    double[] merged = new double[n + 1];
    for (int i = 0; i < n; i++) {
      Point p = d.points().get(i);
      t[i + 1] = t[i] + p.seconds();
      opened[i] = p.participants();
      merged[i] = p.merged();
    }
    opened[n] = opened[n - 1];
    merged[n] = merged[n - 1];
    // Wider, so that it shows beside "merged" where the two are equal.
    c.addSeries("in the round", t, opened).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Step)
        .setLineWidth(5f);
    c.addSeries("merged", t, merged).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Step);
    return new Figure(title, Charts.png(c), "Each round from its opening: the workers it was opened for and those"
        + " whose updates it merged (the rest were late, refused or lost). Time runs over the rounds' seconds, so a"
        + " restart's gap does not show.");
  }

  private static Figure efficiency(RunData d) throws IOException {
    String title = "Round efficiency";
    if (d.points().stream().noneMatch(p -> Double.isFinite(p.efficiency()))) {
      return new Figure(title, null, d.points().isEmpty() ? "No round is recorded yet." : "No round merged an update.");
    }
    XYChart c = Charts.xy(title, "round", "training share of the round (%)", WIDTH, HEIGHT);
    c.getStyler().setYAxisMin(0.0).setYAxisMax(100.0).setYAxisDecimalPattern("0");
    line(c, "round efficiency", d, false, p -> 100 * p.efficiency(), Double.NaN);
    return new Figure(title, Charts.png(c), "The slowest merged worker's training seconds over the round's seconds:"
        + " 100% would mean the round cost nothing beside training.");
  }

  /**
   * Adds the points' finite values of {@code y} against the round (step) or the tokens, starting from {@code at0}
   * at 0 when it is finite.
   */
  private static void line(XYChart c, String name, RunData d, boolean againstTokens, ToDoubleFunction<Point> y,
      double at0) {
    List<double[]> xy = new ArrayList<>();
    if (Double.isFinite(at0)) {
      xy.add(new double[] {0, at0});
    }
    for (Point p : d.points()) {
      double v = y.applyAsDouble(p);
      if (Double.isFinite(v)) {
        xy.add(new double[] {againstTokens ? p.tokens() : p.index(), v});
      }
    }
    if (!xy.isEmpty()) {
      c.addSeries(name, xy.stream().mapToDouble(a -> a[0]).toArray(), xy.stream().mapToDouble(a -> a[1]).toArray());
    }
  }
}
