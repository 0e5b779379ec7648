package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.coordinator.cli.CoordinatorMain;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CheckpointBenchmarkTest {

  /**
   * Every round's checkpoint is written (by the real store, the newest one kept) or skipped while the one before is
   * still being written, and timed; rounds are timed both ways.
   */
  @Test
  void everyRoundsCheckpointIsWrittenInTheBackgroundOrSkippedAndTheWeightsAreOnDisk(@TempDir Path dir)
      throws Exception {
    LlamaConfig tiny = LlamaConfig.preset("tiny").withVocabSize(256);
    CheckpointBenchmark.Result r = CheckpointBenchmark.run(tiny, RunConfig.DEFAULTS, dir, 3, 0.05);
    assertEquals(3, r.writes().size() + r.skipped(), r.writes() + " written, " + r.skipped() + " skipped");
    assertTrue(r.writes().size() >= 1); // the first is never skipped
    assertEquals(r.writes().size(), r.writerCpu().size());
    assertEquals(3, r.roundsWith().size());
    assertEquals(3, r.roundsWithout().size());
    assertEquals(3, r.handovers().size());
    assertTrue(r.bytes() >= tiny.parameterCount() * 4, r.bytes() + " bytes for " + tiny.parameterCount() + " weights");
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> kept = s.filter(Files::isDirectory).toList();
      assertEquals(1, kept.size(), kept.toString()); // the store keeps the newest
      assertTrue(List.of("step-00000015", "step-00000030", "step-00000045").contains(kept.get(0).getFileName()
          .toString()), kept.toString()); // a round of 15 local steps
    }
  }

  @Test
  void noRoundsIsOneLineAndExitStatusTwo() {
    StringWriter err = new StringWriter();
    CommandLine cl = CoordinatorMain.commandLine();
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute("bench-checkpoint", "--rounds", "0");
    assertEquals(2, code, err.toString());
    assertEquals("error: --rounds must be >= 1, got 0", err.toString().strip());
  }
}
