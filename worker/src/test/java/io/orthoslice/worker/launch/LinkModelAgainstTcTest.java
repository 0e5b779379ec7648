package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The link model against a real shaped link: a one-worker run fetches its 20m weights once over a
 * network namespace whose loopback tc shapes to 40 Mbit/s, and once over the plain loopback with the
 * worker's {@code --link-rate 40mbit}. Both fetches must take about what 40 Mbit/s gives the bytes,
 * and about the same. The test makes its own namespace (root, iproute2's ip and tc) and removes it;
 * traffic stays on 127.0.0.1 inside it; where it cannot, it is skipped.
 */
class LinkModelAgainstTcTest {

  private static final String RATE = "40mbit";
  private static final double BYTES_PER_SECOND = 40e6 / 8;

  @Test
  @Timeout(300)
  void theLinkModelCostsAFetchWhatATcShapedLinkCostsIt(@TempDir Path dir) throws Exception {
    String ns = "orthoslice-link-" + ProcessHandle.current().pid();
    assumeTrue(run(List.of("ip", "netns", "add", ns)), "needs root with ip netns (iproute2)");
    try {
      // An Ethernet MTU: tbf drops every packet larger than its burst, and loopback's are 64 KiB.
      assumeTrue(run(List.of("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "mtu", "1500", "up"))
          && run(List.of("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", RATE,
              "burst", "32kb", "latency", "200ms")), "needs tc in a network namespace");
      JsonNode tc = firstRound(dir.resolve("tc"), List.of("ip", "netns", "exec", ns), List.of());
      JsonNode model = firstRound(dir.resolve("model"), List.of(), List.of("--link-rate", RATE));
      long bytes = tc.get("fullBroadcastBytes").asLong();
      assertEquals(bytes, model.get("fullBroadcastBytes").asLong());
      double ideal = bytes / BYTES_PER_SECOND;
      double shaped = tc.get("fetchSeconds").asDouble();
      double modelled = model.get("fetchSeconds").asDouble();
      String what = String.format(Locale.ROOT, "%d bytes at %s: %.2f s ideal, tc %.2f s, model %.2f s", bytes, RATE,
          ideal, shaped, modelled);
      System.out.println("link model against tc: " + what);
      assertTrue(ideal > 1.5, "the fetch must be dominated by the link: " + what);
      assertTrue(shaped > 0.8 * ideal && modelled > 0.8 * ideal, what);
      assertTrue(shaped < 2.0 * ideal && modelled < 2.0 * ideal, what);
      assertTrue(Math.abs(shaped - modelled) < 0.35 * Math.max(shaped, modelled), what);
    } finally {
      run(List.of("ip", "netns", "del", ns));
    }
  }

  /** Round 1 of a one-round, one-worker 20m run, launched behind {@code prefix}. */
  private static JsonNode firstRound(Path runDir, List<String> prefix, List<String> workerLink) throws Exception {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
        "-cp", System.getProperty("java.class.path"), "io.orthoslice.worker.cli.OrthosliceCli", "launch",
        "--workers", "1", "--rounds", "1", "--local-steps", "1", "--preset", "20m", "--seq-len", "32",
        "--batch-size", "2", "--rank", "16", "--eval-batches", "1", "--threads", "1", "--metrics-port", "-1",
        "--run-dir", runDir.toString()));
    cmd.addAll(workerLink);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(runDir.resolveSibling(
        runDir.getFileName() + ".log").toFile()).start();
    assertTrue(p.waitFor(240, TimeUnit.SECONDS), "the launch did not end");
    String log = Files.readString(runDir.resolveSibling(runDir.getFileName() + ".log"));
    assertEquals(0, p.exitValue(), log);
    return new ObjectMapper().readTree(runDir.resolve("coordinator").resolve("summary.json").toFile())
        .get("round_results").get(0);
  }

  private static boolean run(List<String> cmd) throws IOException, InterruptedException {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false; // no such program
    }
  }
}
