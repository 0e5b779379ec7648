package io.orthoslice.worker.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.worker.cli.OrthosliceCli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One real cell through {@code orthoslice sweep} (coordinator and worker JVMs): its result lands in
 * cells.jsonl with the communication figures read from the run's summary.json, and the report is
 * written. A change of summary.json's format once broke every real cell after its run; only a cell
 * that really runs shows that.
 */
class SweepEndToEndTest {

  @Test
  @Timeout(240)
  void aRealCellRunsAndIsReported(@TempDir Path dir) throws Exception {
    int code = OrthosliceCli.execute("sweep", "--preset", "tiny", "--seq-len", "32", "--batch-size", "2", "--rounds",
        "2", "--local-steps", "2", "--workers", "2", "--rank", "4", "--modes", "orthogonal", "--merge", "mean",
        "--lr", "1e-3", "--seeds", "1", "--eval-batches", "1", "--threads", "1", "--output", dir.toString());
    assertEquals(0, code);
    List<String> cells = Files.readAllLines(dir.resolve("cells.jsonl"));
    assertEquals(1, cells.size(), String.join("\n", cells));
    JsonNode cell = new ObjectMapper().readTree(cells.get(0));
    assertEquals("ok", cell.get("status").asText(), cells.get(0));
    assertEquals(2, cell.get("perplexityByRound").size(), cells.get(0));
    assertTrue(cell.get("bytesPerToken").asDouble() > 0, cells.get(0));
    assertTrue(Files.readString(dir.resolve("results.md")).contains("orthogonal"));
  }
}
