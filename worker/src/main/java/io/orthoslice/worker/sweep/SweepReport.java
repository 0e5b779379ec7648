package io.orthoslice.worker.sweep;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * The sweep's tables: for every configuration (mode and levers, see {@link SweepCell#group}) and
 * worker count K, the learning rate with the lowest final perplexity on the first seed, and the mean
 * and standard deviation over the seeds run at that rate; then every cell. Pure functions of the
 * results, so a report can be regenerated from {@code cells.jsonl} alone.
 */
public final class SweepReport {

  /**
   * One configuration at one K, at its best learning rate.
   *
   * @param grid the learning rates run on the first seed for this configuration and K (failed ones
   *     included: they were tried and lost), ascending
   */
  public record Row(String group, int workers, int rank, double lr, List<Double> grid, List<CellResult> seeds) {
    /**
     * Whether the best lr is the lowest or the highest of a grid of two or more: a better one may lie
     * outside it, so the row is not yet at its mode's best. A single lr is no grid and is not marked.
     */
    public boolean atGridEdge() {
      return grid.size() > 1 && (lr == grid.get(0) || lr == grid.get(grid.size() - 1));
    }

    public double mean() {
      return seeds.stream().mapToDouble(CellResult::finalPerplexity).average().orElse(Double.NaN);
    }

    /** Sample standard deviation (n - 1); 0 for a single seed. */
    public double std() {
      int n = seeds.size();
      if (n < 2) {
        return 0;
      }
      double m = mean();
      return Math.sqrt(seeds.stream().mapToDouble(r -> Math.pow(r.finalPerplexity() - m, 2)).sum() / (n - 1));
    }

    /** Mean over seeds of how many times fewer bytes per trained token than sync DP; NaN when unknown. */
    public double reductionVsSyncDp() {
      return seeds.stream().mapToDouble(CellResult::reductionVsSyncDp).filter(v -> v > 0).average()
          .orElse(Double.NaN);
    }

    /** Mean over seeds of the perplexity after each round. */
    public double[] meanByRound() {
      int rounds = seeds.stream().mapToInt(r -> r.perplexityByRound().size()).min().orElse(0);
      double[] out = new double[rounds];
      for (CellResult r : seeds) {
        for (int i = 0; i < rounds; i++) {
          out[i] += r.perplexityByRound().get(i) / seeds.size();
        }
      }
      return out;
    }
  }

  private SweepReport() {}

  private static String key(SweepCell c) {
    return c.group() + "|" + c.workers();
  }

  /**
   * The best cell of every (configuration, K) among the first seed's cells (lowest final perplexity;
   * a failed run never wins unless all failed).
   */
  public static Map<String, SweepCell> bestLr(List<CellResult> results) {
    long firstSeed = results.stream().mapToLong(r -> r.cell().seed()).min().orElse(0);
    Map<String, CellResult> best = new LinkedHashMap<>();
    for (CellResult r : results) {
      if (r.cell().seed() != firstSeed) {
        continue;
      }
      best.merge(key(r.cell()), r, (a, b) -> b.finalPerplexity() < a.finalPerplexity() ? b : a);
    }
    Map<String, SweepCell> out = new LinkedHashMap<>();
    best.forEach((k, v) -> out.put(k, v.cell()));
    return out;
  }

  /** One row per (configuration, K) at its best lr with every seed run there. */
  public static List<Row> rows(List<CellResult> results) {
    List<Row> rows = new ArrayList<>();
    for (SweepCell best : bestLr(results).values()) {
      List<CellResult> seeds = results.stream().filter(r -> key(r.cell()).equals(key(best))
          && r.cell().lr() == best.lr()).sorted(Comparator.comparingLong(r -> r.cell().seed())).toList();
      List<Double> grid = results.stream().filter(r -> key(r.cell()).equals(key(best))
          && r.cell().seed() == best.seed()).map(r -> r.cell().lr()).distinct().sorted().toList();
      rows.add(new Row(best.group(), best.workers(), best.rank(), best.lr(), grid, seeds));
    }
    return rows;
  }

  /**
   * One line per row whose best lr sits at its grid's edge ({@link Row#atGridEdge}), naming the lr to
   * run next: a factor of 2 beyond the edge.
   */
  public static List<String> gridEdgeWarnings(List<CellResult> results) {
    List<String> out = new ArrayList<>();
    for (Row r : rows(results)) {
      if (!r.atGridEdge()) {
        continue;
      }
      boolean low = r.lr() == r.grid().get(0);
      out.add(String.format(Locale.ROOT, "%s, K = %d: the best lr %s is the %s of its grid (%s); run %s too before"
          + " reading this row", r.group(), r.workers(), plain(r.lr()), low ? "lowest" : "highest",
          String.join(", ", r.grid().stream().map(SweepReport::plain).toList()), plain(low ? r.lr() / 2 : r.lr() * 2)));
    }
    return out;
  }

  private static String plain(double lr) {
    return new java.math.BigDecimal(SweepCell.num(lr)).stripTrailingZeros().toPlainString();
  }

  /** The Markdown report: the summary table (configurations x K), then every cell. */
  public static String markdown(SweepSpec spec, List<CellResult> results, String command) {
    List<Row> rows = rows(results);
    TreeSet<Integer> ks = new TreeSet<>();
    List<String> groups = new ArrayList<>();
    for (Row r : rows) {
      ks.add(r.workers());
      if (!groups.contains(r.group())) {
        groups.add(r.group());
      }
    }
    StringBuilder md = new StringBuilder();
    md.append(String.format(Locale.ROOT, "Preset %s, seq %d, batch %d per worker, %d rounds x %d local steps"
        + " (%d local steps per worker), validation on %d batches. Each cell: final validation perplexity, mean ±"
        + " std over n seeds at the learning rate (peak; cosine to lr/10) that was best on the first seed.%n%n",
        spec.preset(), spec.seqLen(), spec.batchSize(), spec.rounds(), spec.localSteps(),
        spec.rounds() * spec.localSteps(), spec.evalBatches()));
    if (command != null) {
      md.append("```\n").append(command).append("\n```\n\n");
    }
    md.append("| configuration |");
    for (int k : ks) {
      md.append(" K = ").append(k).append(" |");
    }
    md.append("\n|---|");
    ks.forEach(k -> md.append("---|"));
    md.append("\n");
    for (String g : groups) {
      md.append("| ").append(g).append(" |");
      for (int k : ks) {
        Row r = rows.stream().filter(x -> x.group().equals(g) && x.workers() == k).findFirst().orElse(null);
        md.append(r == null ? " |" : String.format(Locale.ROOT, " %s (n=%d, lr %s%s, r=%d%s) |", meanStd(r),
            r.seeds().size(), plain(r.lr()), r.atGridEdge() ? " at the grid's edge" : "", r.rank(),
            Double.isNaN(r.reductionVsSyncDp()) ? ""
                : String.format(Locale.ROOT, ", %.0fx fewer bytes than sync DP", r.reductionVsSyncDp())));
      }
      md.append("\n");
    }
    if (rows.stream().anyMatch(Row::atGridEdge)) {
      md.append("\n*At the grid's edge*: the best lr is the lowest or highest one run, so a better one may lie"
          + " outside the grid; such a row is not yet at its configuration's best (run the next factor of 2).\n");
    }
    md.append("\nBytes per trained token: what a worker sent and fetched per token it trained; \"vs sync DP\": how many"
        + " times fewer than synchronous data parallel (a ring all-reduce of the fp32 gradient every step) on the same"
        + " workers (io.orthoslice.common.round.CommunicationCost).\n");
    md.append("\n| cell | status | final ppl | bytes/round/worker | bytes/token | vs sync DP | tokens | seconds |\n"
        + "|---|---|---|---|---|---|---|---|\n");
    for (CellResult r : results) {
      md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %s | %s | %s | %d | %.0f |%n", r.cell().slug(),
          r.ok() ? "ok" : "failed: " + r.error().replace('|', '/'), r.finalPerplexity(),
          mib(r.bytesPerRoundPerWorker()), r.bytesPerToken() > 0 ? String.format(Locale.ROOT, "%.1f", r.bytesPerToken())
              : "-", r.reductionVsSyncDp() > 0 ? String.format(Locale.ROOT, "%.0fx", r.reductionVsSyncDp()) : "-",
          r.tokens(), r.seconds()));
    }
    return md.toString();
  }

  static String meanStd(Row r) {
    return Double.isFinite(r.mean()) ? String.format(Locale.ROOT, "%.2f ± %.2f", r.mean(), r.std()) : "diverged";
  }

  private static String mib(double bytes) {
    return String.format(Locale.ROOT, "%.2f MiB", bytes / (1 << 20));
  }
}
