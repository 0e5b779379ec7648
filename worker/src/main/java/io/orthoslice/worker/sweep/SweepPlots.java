package io.orthoslice.worker.sweep;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import io.orthoslice.worker.plot.Charts;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.style.Styler;

/**
 * The sweep's PNG plots (XChart): validation perplexity against the round, one line per
 * configuration at its best learning rate (mean over seeds), one plot per K; and the final perplexity
 * against K with the seeds' standard deviation as error bars. Without java.desktop ({@link Charts#available})
 * it draws nothing; cells.jsonl keeps what is needed to draw later with {@code --report-only}.
 */
public final class SweepPlots {

  private SweepPlots() {}

  /**
   * Writes {@code <prefix>-ppl-vs-round-k<K>.png} and {@code <prefix>-ppl-vs-workers.png}; returns the
   * files (none when the runtime cannot draw, see {@link Charts#available}).
   */
  public static List<Path> write(List<CellResult> results, Path dir, String prefix, String title)
      throws IOException {
    if (!Charts.available()) {
      return List.of();
    }
    Files.createDirectories(dir);
    List<SweepReport.Row> rows = SweepReport.rows(results).stream().filter(r -> Double.isFinite(r.mean())).toList();
    List<Path> out = new ArrayList<>();
    TreeSet<Integer> ks = new TreeSet<>();
    rows.forEach(r -> ks.add(r.workers()));
    for (int k : ks) {
      XYChart c = chart(title + ", K = " + k, "round", "validation perplexity");
      // Linear, with labelled ticks: XChart's log axis labels decades only, and these curves span less than one.
      c.getStyler().setYAxisDecimalPattern("0.#");
      for (SweepReport.Row r : rows) {
        double[] y = r.meanByRound();
        if (r.workers() != k || y.length == 0) {
          continue;
        }
        // Rounds that were not evaluated (--eval-every) carry NaN: plot the evaluated ones.
        java.util.List<double[]> points = new ArrayList<>();
        for (int i = 0; i < y.length; i++) {
          if (Double.isFinite(y[i])) {
            points.add(new double[] {i + 1, y[i]});
          }
        }
        c.addSeries(r.group() + " (lr " + SweepCell.num(r.lr()) + ")",
            points.stream().mapToDouble(p -> p[0]).toArray(), points.stream().mapToDouble(p -> p[1]).toArray());
      }
      if (!c.getSeriesMap().isEmpty()) {
        out.add(save(c, dir.resolve(prefix + "-ppl-vs-round-k" + k + ".png")));
      }
    }
    if (ks.size() > 1) {
      XYChart c = chart(title + ": final perplexity against workers", "workers K", "final validation perplexity");
      // Outside: inside, the legend hides the far-right points of the lines that rise with K.
      c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
      List<String> groups = rows.stream().map(SweepReport.Row::group).distinct().toList();
      for (String g : groups) {
        List<SweepReport.Row> line = rows.stream().filter(r -> r.group().equals(g)).toList();
        if (line.size() < 2) {
          continue;
        }
        double[] x = line.stream().mapToDouble(SweepReport.Row::workers).toArray();
        double[] y = line.stream().mapToDouble(SweepReport.Row::mean).toArray();
        double[] e = line.stream().mapToDouble(SweepReport.Row::std).toArray();
        c.addSeries(g, x, y, e);
      }
      if (!c.getSeriesMap().isEmpty()) {
        out.add(save(c, dir.resolve(prefix + "-ppl-vs-workers.png")));
      }
    }
    return out;
  }

  private static XYChart chart(String title, String x, String y) {
    return Charts.xy(title, x, y, 900, 560);
  }

  private static Path save(XYChart c, Path file) throws IOException {
    return Charts.save(c, file);
  }
}
