package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A real coordinator and 3 worker JVMs on loopback, started by the launcher, on the tiny preset. */
class LaunchMultiProcessTest {

  @Test
  @Timeout(180)
  void threeWorkerProcessesMergeEverySliceAndValidationPerplexityFalls(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    List<String> coordinator = List.of("--rounds", "3", "--local-steps", "6", "--mode", "orthogonal", "--rank", "8",
        "--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--lr", "3e-3", "--eval-batches", "2");
    Launcher.Result r = new Launcher(new LaunchConfig(3, dir, coordinator, List.of(), List.of(), 1,
        List.of("-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")),
        new PrintStream(shown, true, StandardCharsets.UTF_8)).run();
    String view = shown.toString(StandardCharsets.UTF_8);
    assertEquals(0, r.exitCode(), view);

    JsonNode summary = new ObjectMapper().readTree(dir.resolve("coordinator/summary.json").toFile());
    JsonNode rounds = summary.get("round_results");
    assertEquals(3, rounds.size(), view);
    for (JsonNode round : rounds) {
      assertEquals("[0,1,2]", round.get("mergedSlots").toString(), view);
      assertEquals(3, round.get("participants").asInt());
    }
    // The coordinator appended each round to rounds.jsonl as it merged (what orthoslice report reads while a run
    // goes on): the same records as the summary's.
    assertEquals(rounds.toString(), new ObjectMapper().valueToTree(
        io.orthoslice.common.train.RunFiles.read(dir.resolve("coordinator/rounds.jsonl"))).toString());
    assertEquals(3 * 6 * 4 * 32, rounds.get(0).get("tokens").asLong(), "3 workers x 6 steps x 4 x 32 tokens");
    double initial = summary.get("initial_validation_loss").asDouble();
    double last = rounds.get(2).get("validationLoss").asDouble();
    assertTrue(last < initial - 0.5, "validation loss " + initial + " -> " + last + "\n" + view);
    assertEquals(3, view.lines().filter(l -> l.startsWith("round ")).count(), view);
    assertTrue(view.contains("final validation perplexity"), view);
  }
}
