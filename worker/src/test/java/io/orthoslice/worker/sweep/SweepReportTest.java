package io.orthoslice.worker.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.api.io.TempDir;

class SweepReportTest {

  private static SweepSpec spec(List<String> modes, List<Integer> workers, List<String> merges, List<Double> lrs,
      List<Long> seeds) {
    return new SweepSpec("tiny", 64, 8, 4, 5, 2, 1, null, "byte", -1, 1, modes, workers, 0, 64, merges, List.of(1, 4),
        List.of("reset"), List.of(1.0), List.of(0.0), List.of("f32"), List.of(1.0), List.of(1.0), List.of(0), lrs,
        seeds);
  }

  private static CellResult result(SweepCell c, double... ppl) {
    List<Double> byRound = new ArrayList<>();
    for (double p : ppl) {
      byRound.add(p);
    }
    return new CellResult(c, "ok", "", 256, byRound, 1000, 1 << 20, 1, "x");
  }

  @Test
  void cellsAreEveryCombinationWithFullModeTakingOneMergeAndOneSliceLifetime() {
    SweepSpec s = spec(List.of("orthogonal", "same", "full"), List.of(2, 4), List.of("auto", "mean"),
        List.of(1e-3, 2e-3), List.of(1L, 2L));
    List<SweepCell> cells = s.cells(s.lrs(), s.seeds());
    // orthogonal: auto (=sum) and mean; same: auto (=mean) and mean collapse to one; x 2 slice lifetimes;
    // full: one of each. Per K and (lr, seed): 2*2 + 1*2 + 1 = 7.
    assertEquals(7 * 2 * 2 * 2, cells.size());
    assertEquals(cells.size(), cells.stream().map(SweepCell::slug).distinct().count());
    assertTrue(cells.stream().filter(c -> c.mode().equals("orthogonal")).allMatch(c -> c.rank() == 64 / c.workers()));
    assertTrue(cells.stream().filter(c -> c.mode().equals("full")).allMatch(c -> c.sliceRounds() == 1
        && c.merge().equals("mean") && c.rank() == 0));
  }

  /**
   * The adapter scale and the round warm-up are axes of their own, mode full takes only scale 1, and a
   * cell recorded before the axes existed reads back at their defaults under the identity it had, so
   * an old sweep resumes without running its cells again.
   */
  @Test
  void theScaleAndRoundWarmupAxesLeaveOldCellsAsTheyWere(@TempDir Path dir) throws Exception {
    SweepSpec s = new SweepSpec("tiny", 64, 8, 4, 5, 2, 1, null, "byte", -1, 1, List.of("same", "full"), List.of(4),
        0, 64, List.of("mean"), List.of(1), List.of("reset"), List.of(1.0), List.of(0.0), List.of("f32"),
        List.of(1.0), List.of(1.0, 2.0), List.of(0, 5), List.of(1e-3), List.of(42L));
    List<SweepCell> cells = s.cells(s.lrs(), s.seeds());
    assertEquals(List.of("same-k4-r16-mean-s1-reset-o1-m0-lr0.001-seed42",
        "same-k4-r16-mean-s1-reset-o1-m0-lr0.001-seed42-rw5", "same-k4-r16-mean-s1-reset-o1-m0-lr0.001-seed42-a2",
        "same-k4-r16-mean-s1-reset-o1-m0-lr0.001-seed42-a2-rw5", "full-k4-r0-mean-s1-reset-o1-m0-lr0.001-seed42",
        "full-k4-r0-mean-s1-reset-o1-m0-lr0.001-seed42-rw5"), cells.stream().map(SweepCell::slug).toList());
    SweepCell both = cells.get(3);
    assertEquals("same mean, scale 2, round warm-up 5", both.group());
    io.orthoslice.common.config.RunConfig run = s.runConfig(io.orthoslice.common.config.RunConfig.DEFAULTS, both);
    assertEquals(List.of(5, 2.0, 1e-4, 4, 5), List.of(run.roundWarmup(), run.scale(), run.trainConfig().minLr(),
        run.rounds(), run.localSteps()));
    assertEquals(both.withSeed(43).slug(), both.slug().replace("seed42", "seed43"));

    Path old = dir.resolve("cells.jsonl");
    Files.writeString(old, "{\"cell\":{\"mode\":\"orthogonal\",\"workers\":8,\"rank\":32,\"merge\":\"mean\","
        + "\"sliceRounds\":1,\"innerState\":\"reset\",\"outerLr\":1.0,\"outerMomentum\":0.0,\"wire\":\"f32\","
        + "\"density\":1.0,\"lr\":0.002,\"seed\":44},\"status\":\"ok\",\"error\":\"\",\"initialPerplexity\":270.8,"
        + "\"perplexityByRound\":[35.2,13.3],\"tokens\":1638400,\"bytesPerRoundPerWorker\":1.5300608E7,"
        + "\"seconds\":488.6,\"runDir\":\"x\"}\n");
    SweepCell back = SweepRunner.readCells(old).get(0).cell();
    assertEquals(1.0, back.scale());
    assertEquals(0, back.roundWarmup());
    assertEquals("orthogonal-k8-r32-mean-s1-reset-o1-m0-lr0.002-seed44", back.slug());
    assertEquals("orthogonal mean", back.group());
  }

  @Test
  void theBestLrIsPickedOnTheFirstSeedAndRowsAverageTheSeedsRunThere() {
    SweepCell a = new SweepCell("same", 4, 16, "mean", 1, "reset", 1, 0, 1e-3, 42);
    SweepCell b = new SweepCell("same", 4, 16, "mean", 1, "reset", 1, 0, 2e-3, 42);
    SweepCell b2 = new SweepCell("same", 4, 16, "mean", 1, "reset", 1, 0, 2e-3, 43);
    SweepCell a2 = new SweepCell("same", 4, 16, "mean", 1, "reset", 1, 0, 1e-3, 43);
    List<CellResult> rs = List.of(result(a, 30, 20), result(b, 30, 18), result(b2, 30, 20), result(a2, 30, 1));
    assertEquals(2e-3, SweepReport.bestLr(rs).values().iterator().next().lr());
    SweepReport.Row row = SweepReport.rows(rs).get(0);
    assertEquals(2, row.seeds().size()); // seed 43 at lr 1e-3 is not in the row, however good
    assertEquals(19.0, row.mean(), 1e-12);
    assertEquals(Math.sqrt(2), row.std(), 1e-12);
    assertEquals(30.0, row.meanByRound()[0], 1e-12);
  }

  /**
   * A best lr at the top or bottom of its grid is marked in the table and warned about with the lr to
   * run next; an interior best, and a single lr (no grid), are not. A failed lr counts as tried.
   */
  @Test
  void aBestLrAtItsGridsEdgeIsMarkedAndNamesTheNextLr() {
    List<CellResult> rs = new ArrayList<>();
    double[] lrs = {1e-3, 2e-3, 4e-3};
    double[] edge = {30, 25, 20}; // best at the highest lr
    double[] inside = {30, 20, 25};
    for (int i = 0; i < lrs.length; i++) {
      rs.add(result(new SweepCell("same", 4, 16, "mean", 1, "reset", 1, 0, lrs[i], 42), edge[i]));
      rs.add(result(new SweepCell("independent", 4, 16, "mean", 1, "reset", 1, 0, lrs[i], 42), inside[i]));
    }
    rs.add(result(new SweepCell("full", 4, 0, "mean", 1, "reset", 1, 0, 2e-3, 42), 22));
    SweepCell diverged = new SweepCell("independent", 8, 8, "mean", 1, "reset", 1, 0, 8e-3, 42);
    rs.add(new CellResult(diverged, "failed", "local loss became NaN", Double.NaN, List.of(), 0, 0, 1, "x"));
    rs.add(result(new SweepCell("independent", 8, 8, "mean", 1, "reset", 1, 0, 4e-3, 42), 21));
    rs.add(result(new SweepCell("independent", 8, 8, "mean", 1, "reset", 1, 0, 2e-3, 42), 24));

    assertEquals(List.of("same mean, K = 4: the best lr 0.004 is the highest of its grid (0.001, 0.002, 0.004);"
        + " run 0.008 too before reading this row"), SweepReport.gridEdgeWarnings(rs));
    SweepSpec s = spec(List.of("same", "independent", "full"), List.of(4, 8), List.of("mean"), List.of(1e-3),
        List.of(42L));
    String md = SweepReport.markdown(s, rs, null);
    assertTrue(md.contains("20.00 ± 0.00 (n=1, lr 0.004 at the grid's edge, r=16"), md);
    assertTrue(md.contains("20.00 ± 0.00 (n=1, lr 0.002, r=16"), md);
    assertTrue(md.contains("21.00 ± 0.00 (n=1, lr 0.004, r=8"), md); // 8e-3 diverged: 4e-3 is interior
    assertTrue(md.contains("22.00 ± 0.00 (n=1, lr 0.002, r=0"), md);
    assertEquals(1, md.split("at the grid's edge,", -1).length - 1, md);
    assertTrue(md.contains("*At the grid's edge*"), md);
  }

  @Test
  void aFailedCellNeverWinsTheLrPick() {
    SweepCell ok = new SweepCell("orthogonal", 4, 16, "sum", 1, "reset", 1, 0, 1e-3, 42);
    SweepCell bad = new SweepCell("orthogonal", 4, 16, "sum", 1, "reset", 1, 0, 8e-3, 42);
    CellResult failed = new CellResult(bad, "failed", "local loss became NaN", Double.NaN, List.of(), 0, 0, 1, "x");
    assertEquals(1e-3, SweepReport.bestLr(List.of(failed, result(ok, 40))).values().iterator().next().lr());
  }

  @Test
  void aResultsSectionIsReplacedAndTheRestOfTheFileKept(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("RESULTS.md");
    Files.writeString(f, "# Results\n\nintro\n");
    ResultsDoc.replaceSection(f, "20m", "table one");
    ResultsDoc.replaceSection(f, "60m", "table two");
    ResultsDoc.replaceSection(f, "20m", "table three");
    String text = Files.readString(f);
    assertTrue(text.startsWith("# Results\n\nintro\n"), text);
    assertTrue(text.contains("<!-- sweep:20m -->\ntable three\n<!-- /sweep:20m -->"), text);
    assertTrue(text.contains("table two") && !text.contains("table one"), text);
    Files.writeString(f, "<!-- sweep:x -->\nno end\n");
    assertThrows(IllegalArgumentException.class, () -> ResultsDoc.replaceSection(f, "x", "y"));
  }

  @Test
  void aSpecNamesTheBadAxis() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> spec(List.of("orthogonal"), List.of(3), List.of("auto"), List.of(1e-3), List.of(1L)));
    assertTrue(e.getMessage().contains("--fixed-kr 64 is not divisible by 3"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> spec(List.of("orthogonal"), List.of(4), List.of("avg"), List.of(1e-3), List.of(1L)));
    assertTrue(e.getMessage().contains("merge must be sum, mean"), e.getMessage());
  }

  /**
   * summary.json as the coordinator writes it (the run's record under "config") and as it did before
   * protocol 7 (local_steps at the top, the update's bytes named factoredBroadcastBytes): a sweep
   * resumed over old cells reads both.
   */
  @ParameterizedTest
  @ValueSource(strings = {
      "{\"config\": {\"local_steps\": 5}, \"round_results\": [%s, %s]}",
      "{\"local_steps\": 5, \"round_results\": [%s, %s]}"})
  void aCellsCommunicationFiguresComeFromItsRunSummary(String format) throws Exception {
    // Two rounds; a worker sends 1000 bytes and fetches the 3000-byte round update each round;
    // the weights are 40000 bytes (10000 fp32 parameters); 5 local steps of 64 tokens; K = 4.
    String bytesName = format.startsWith("{\"config\"") ? "updateBroadcastBytes" : "factoredBroadcastBytes";
    String round = "{\"uploadBytesPerWorker\": 1000, \"" + bytesName + "\": 3000, \"fullBroadcastBytes\": 40000}";
    com.fasterxml.jackson.databind.JsonNode summary = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        String.format(format, round, round));
    SweepSpec s = spec(List.of("orthogonal"), List.of(4), List.of("auto"), List.of(1e-3), List.of(1L));
    CellResult r = SweepRunner.communication(result(s.cells(s.lrs(), s.seeds()).get(0), 30, 20), summary, 64);
    assertEquals(2 * 4000 / (2 * 5 * 64.0), r.bytesPerToken(), 1e-12); // 12.5
    assertEquals(2 * 2 * 0.75 * 10000 * 4 / 64.0 / 12.5, r.reductionVsSyncDp(), 1e-9); // 1875 / 12.5 = 150
    assertTrue(SweepReport.markdown(s, List.of(r), null).contains("| 12.5 | 150x |"));
  }
}
