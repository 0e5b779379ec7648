package io.orthoslice.coordinator;

import io.orthoslice.coordinator.cli.CoordinatorMain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.config.TrainConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CoordinatorMainTest {

  @Test
  void aFreshRunIntoAnOutputThatHoldsCheckpointsIsRefusedAndTheyAreKept(@TempDir Path out) throws Exception {
    LlamaConfig model = LlamaConfig.preset("tiny").withVocabSize(64);
    RunSettings s = new RunSettings(model, RunConfig.DEFAULTS.with(Map.of("seq_len", 8, "batch_size", 2, "warmup", 1,
        "lr", 1e-3, "min_lr", 1e-4, "seed", 7, "rank", 4, "local_steps", 2, "rounds", 2, "workers", 1))
        .with(Map.of("eval_batches", 1, "round_timeout", 60)), "test-data");
    new RoundCheckpoints(out.resolve("checkpoints"), 3, s, 1, 2).save(
        new ResumeState(2, 16, WeightsSnapshot.initial(model, 7), Map.of(), 3.0), null);
    Path saved = RoundCheckpoints.latestIn(out.resolve("checkpoints")).orElseThrow();

    StringWriter err = new StringWriter();
    CommandLine cl = CoordinatorMain.commandLine();
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute("--output", out.toString(), "--token", "t", "--port", "0", "--metrics-port", "-1");

    assertEquals(2, code, err.toString());
    String line = err.toString().strip();
    assertTrue(line.startsWith("error: --output " + out + " already holds checkpoint " + saved)
        && line.contains("--resume") && line.lines().count() == 1, line);
    assertEquals(saved, RoundCheckpoints.latestIn(out.resolve("checkpoints")).orElseThrow());
  }

  @Test
  void aPortInUseIsOneLineNamingIt(@TempDir Path out) throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0)) {
      StringWriter err = new StringWriter();
      CommandLine cl = CoordinatorMain.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int code = cl.execute("--output", out.toString(), "--token", "t", "--port", "" + taken.getLocalPort(),
          "--metrics-port", "-1", "--workers", "1", "--rounds", "1");
      String line = err.toString().strip();
      assertEquals(2, code, line);
      assertTrue(line.startsWith("error: --port: Failed to bind to address ") && line.contains(":" + taken.getLocalPort())
          && line.contains("already in use") && line.lines().count() == 1, line);
    }
  }

  /** A metrics port in use and a TLS pair that is not one: one line each, naming the flag and what it got. */
  @Test
  void aMetricsPortInUseAndAnUnreadableTlsPairAreOneLineNamingTheFlag(@TempDir Path out) throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0)) {
      StringWriter err = new StringWriter();
      CommandLine cl = CoordinatorMain.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int code = cl.execute("--output", out.resolve("a").toString(), "--token", "t", "--port", "0", "--metrics-port",
          "" + taken.getLocalPort(), "--workers", "1", "--rounds", "1");
      String line = err.toString().strip();
      assertEquals(2, code, line);
      assertEquals("error: --metrics-port " + taken.getLocalPort() + ": the port is already in use (another process"
          + " listens there); choose another, 0 for any free port, or -1 for no metrics", line);
    }
    Path junk = java.nio.file.Files.writeString(out.resolve("junk.pem"), "not a certificate\n");
    StringWriter err = new StringWriter();
    CommandLine cl = CoordinatorMain.commandLine();
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute("--output", out.resolve("b").toString(), "--token", "t", "--port", "0", "--metrics-port",
        "-1", "--workers", "1", "--rounds", "1", "--tls-cert", junk.toString(), "--tls-key", junk.toString());
    String line = err.toString().strip();
    assertEquals(2, code, line);
    assertTrue(line.startsWith("error: --tls-cert " + junk + " and --tls-key " + junk + " are not a PEM certificate chain")
        && line.lines().count() == 1, line);
  }
}
