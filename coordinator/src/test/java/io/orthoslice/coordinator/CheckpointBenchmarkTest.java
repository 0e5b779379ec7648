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

  /** Every round's checkpoint is written (by the real store, the newest one kept) and timed; rounds are timed both ways. */
  @Test
  void everyRoundIsCheckpointedInTheBackgroundAndTheWeightsAreOnDisk(@TempDir Path dir) throws Exception {
    LlamaConfig tiny = LlamaConfig.preset("tiny").withVocabSize(256);
    CheckpointBenchmark.Result r = CheckpointBenchmark.run(tiny, RunConfig.DEFAULTS, dir, 3, 0.05);
    assertEquals(3, r.writes().size());
    assertEquals(3, r.writerCpu().size());
    assertEquals(3, r.roundsWith().size());
    assertEquals(3, r.roundsWithout().size());
    assertEquals(3, r.handovers().size());
    assertTrue(r.bytes() >= tiny.parameterCount() * 4, r.bytes() + " bytes for " + tiny.parameterCount() + " weights");
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> kept = s.filter(Files::isDirectory).toList();
      assertEquals(1, kept.size(), kept.toString()); // the store keeps the newest
      assertEquals("step-00000045", kept.get(0).getFileName().toString()); // round 3 of 15 local steps
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
