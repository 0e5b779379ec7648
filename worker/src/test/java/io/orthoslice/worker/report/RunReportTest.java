package io.orthoslice.worker.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.train.EvaluationRecord;
import io.orthoslice.common.train.RunFiles;
import io.orthoslice.coordinator.RoundResult;
import io.orthoslice.worker.cli.OrthosliceCli;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code orthoslice report} on small synthetic run directories, written with the records the coordinator and the
 * trainer append ({@link RoundResult}, {@link EvaluationRecord}) through {@link RunFiles}, as the runs do.
 */
class RunReportTest {

  private static final Pattern PNG = Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"");

  /** Round r (0-based) of a 3-worker run: 2 workers merged in round 1, each worker trained 960 tokens. */
  private static RoundResult round(long r, double validationLoss) {
    List<Integer> merged = r == 1 ? List.of(0, 2) : List.of(0, 1, 2);
    return new RoundResult(r, 3, merged, r + 1, 4.0 - r / 2.0, validationLoss, 183040, 534272, 534272, 0.05, 0.3,
        0.2, 1.5, 2.0, 93.4, 2782.7, 960L * merged.size());
  }

  /** A coordinator --output of a run of 4 rounds that has merged 3 so far: run.json and rounds.jsonl only. */
  private static Path runningCoordinator(Path dir) throws Exception {
    writeRunJson(dir);
    for (int r = 0; r < 3; r++) {
      RunFiles.append(dir.resolve(RunFiles.ROUNDS), round(r, 4.0 - r / 3.0));
    }
    return dir;
  }

  /** run.json as the coordinator writes it. */
  private static void writeRunJson(Path dir) throws Exception {
    Files.createDirectories(dir);
    RunConfig.fromMap(Map.of("workers", 3, "rounds", 4, "local_steps", 15, "rank", 8))
        .write(dir.resolve(RunFiles.RUN_CONFIG));
  }

  private static List<BufferedImage> images(String html) throws Exception {
    List<BufferedImage> out = new ArrayList<>();
    Matcher m = PNG.matcher(html);
    while (m.find()) {
      BufferedImage img = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(m.group(1))));
      assertTrue(img != null, "an embedded image is not a PNG");
      out.add(img);
    }
    return out;
  }

  @Test
  void aRunningCoordinatorsPageHoldsEveryChartAsADecodablePng(@TempDir Path tmp) throws Exception {
    Path dir = runningCoordinator(tmp.resolve("coordinator"));
    RunReport.Written w = RunReport.write(dir, tmp.resolve("report.html"));
    String html = Files.readString(w.file());
    List<BufferedImage> images = images(html);
    // Perplexity and loss against rounds and tokens, time split, bytes per round, bytes per token, workers,
    // round efficiency.
    assertEquals(9, images.size(), html.length() + " characters");
    for (BufferedImage img : images) {
      assertEquals(ReportCharts.WIDTH, img.getWidth());
      assertEquals(ReportCharts.HEIGHT, img.getHeight());
    }
    assertEquals(0, w.notDrawn());
    assertTrue(w.status().contains("3 of 4 rounds on disk"), w.status());
    assertTrue(html.contains("<b>local_steps</b> 15"), "the settings from run.json are in the header");
    assertTrue(html.contains("2 / 3"), "round 2 merged 2 of its 3 workers");
    assertFalse(html.contains("http://") || html.contains("https://"), "nothing is fetched from elsewhere");
  }

  /** A resumed coordinator appends the rounds after its checkpoint again: the page shows each round once, its last. */
  @Test
  void aRoundRecordedAgainAfterAResumeCountsOnceWithItsLastRecord(@TempDir Path tmp) throws Exception {
    Path dir = runningCoordinator(tmp);
    RunFiles.append(dir.resolve(RunFiles.ROUNDS), round(2, 2.5));
    RunData d = RunDirectory.read(dir);
    assertEquals(List.of(1L, 2L, 3L), d.points().stream().map(RunData.Point::index).toList());
    assertEquals(2.5, d.points().get(2).validationLoss(), 0);
    assertEquals(960L * (3 + 2 + 3), d.points().get(2).tokens());
  }

  @Test
  void aLaunchDirectoryIsReadThroughItsCoordinator(@TempDir Path tmp) throws Exception {
    writeRunJson(tmp);
    runningCoordinator(tmp.resolve("coordinator"));
    RunData d = RunDirectory.read(tmp);
    assertEquals(RunData.Kind.LAUNCH, d.kind());
    assertEquals(3, d.points().size());
  }

  /** A train run draws its loss and time charts and says why it has no bytes, workers or rounds. */
  @Test
  void aTrainRunsPageSaysWhichChartsItHasNoDataFor(@TempDir Path tmp) throws Exception {
    Files.writeString(tmp.resolve(RunFiles.TRAIN_CONFIG),
        "{\"model\":{\"hidden_size\":64},\"train_config\":{\"steps\":30,\"lr\":0.003},\"dataset_id\":\"abc\"}");
    for (int s = 10; s <= 20; s += 10) {
      RunFiles.append(tmp.resolve(RunFiles.EVALUATIONS),
          new EvaluationRecord(s, 256L * s, 5.5 - s / 20.0, 5.4 - s / 20.0, 1.0, 0.1, s == 20 ? 0.2 : 0, 1.4));
    }
    RunReport.Written w = RunReport.write(tmp, tmp.resolve("r.html"));
    String html = Files.readString(w.file());
    assertEquals(5, images(html).size());
    assertEquals(1, w.notDrawn());
    assertTrue(html.contains("A train run is one process"), html);
    assertTrue(w.status().contains("evaluated up to step 20 of 30"), w.status());
    assertTrue(html.contains("<b>model.hidden_size</b> 64"), html);
  }

  @Test
  void aDirectoryThatIsNotARunGetsOneLineNamingItAndStatusTwo(@TempDir Path tmp) throws Exception {
    Files.writeString(tmp.resolve("notes.txt"), "not a run");
    StringWriter err = new StringWriter();
    CommandLine cl = OrthosliceCli.commandLine();
    cl.setErr(new PrintWriter(err));
    assertEquals(2, cl.execute("report", tmp.toString()));
    String text = err.toString().strip();
    assertEquals(1, text.lines().count(), text);
    assertTrue(text.startsWith("error: " + tmp + " is not a run directory; expected a launch --run-dir"), text);
    assertFalse(Files.exists(tmp.resolve("report.html")));
  }
}
