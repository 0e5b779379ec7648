package io.orthoslice.common.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunFilesTest {

  @Test
  void appendedRecordsReadBackInOrderWithNanKept(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("run").resolve(RunFiles.EVALUATIONS);
    RunFiles.append(f, new EvaluationRecord(10, 2560, 5.4, Double.NaN, 1.5, 0.25, 0, 1.75));
    RunFiles.append(f, new EvaluationRecord(20, 5120, 5.1, 5.0, 1.0, 0.25, 0.5, 1.75));
    List<JsonNode> r = RunFiles.read(f);
    assertEquals(2, r.size());
    assertEquals(List.of(10L, 20L), r.stream().map(n -> n.get("step").asLong()).toList());
    assertTrue(Double.isNaN(Double.parseDouble(r.get(0).get("validationLoss").asText())), r.get(0).toString());
    assertEquals(0.5, r.get(1).get("checkpointSeconds").asDouble(), 0);
  }

  /** A crash in the middle of an append leaves a torn last line: skipped. A bad line before the last is not. */
  @Test
  void aTornLastLineIsSkippedAndAnyOtherBadLineNamesItsNumber(@TempDir Path dir) throws Exception {
    Path f = dir.resolve(RunFiles.ROUNDS);
    RunFiles.append(f, new EvaluationRecord(1, 1, 1, 1, 1, 1, 1, 1));
    Files.writeString(f, "{\"step\":2,\"tok", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    assertEquals(1, RunFiles.read(f).size());
    Files.writeString(f, "\n" + "{\"step\":3}\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunFiles.read(f));
    assertTrue(e.getMessage().startsWith(f + " line 2 is not JSON"), e.getMessage());
  }

  @Test
  void aMissingFileHasNoRecords(@TempDir Path dir) throws Exception {
    assertEquals(List.of(), RunFiles.read(dir.resolve(RunFiles.ROUNDS)));
  }
}
