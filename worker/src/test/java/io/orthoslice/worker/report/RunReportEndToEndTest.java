package io.orthoslice.worker.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.worker.cli.OrthosliceCli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code orthoslice train} then {@code orthoslice report} on its directory, as a user runs them (a few seconds). */
class RunReportEndToEndTest {

  @Test
  @Timeout(120)
  void aRealTinyTrainRunsReportDrawsItsThreeEvaluations(@TempDir Path tmp) throws Exception {
    Path run = tmp.resolve("train");
    assertEquals(0, OrthosliceCli.execute("train", "--preset", "tiny", "--steps", "6", "--seq-len", "32",
        "--batch-size", "2", "--eval-every", "2", "--eval-batches", "1", "--output", run.toString()));
    RunData d = RunDirectory.read(run);
    assertEquals(List.of(2L, 4L, 6L), d.points().stream().map(RunData.Point::index).toList());
    assertEquals(List.of(128L, 256L, 384L), d.points().stream().map(RunData.Point::tokens).toList());
    assertTrue(d.status().startsWith("finished: 6 steps, 384 tokens"), d.status());
    assertEquals("6", d.config().get("steps"));

    assertEquals(0, OrthosliceCli.execute("report", run.toString()));
    String html = Files.readString(run.resolve("report.html"));
    assertEquals(5, html.split("src=\"data:image/png;base64,", -1).length - 1);
    assertTrue(html.contains("<h2>Evaluations</h2>"), html);
  }
}
