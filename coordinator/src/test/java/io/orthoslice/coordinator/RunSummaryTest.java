package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** summary.json covers the whole run across resumes: earlier rounds kept, redone ones replaced. */
class RunSummaryTest {

  private static RoundResult round(long r, double validation) {
    return new RoundResult(r, 2, List.of(0, 1), r + 1, 3.0, validation, 1, 2, 3, 0.1, 0.1, 0.1, 1.0, 2.0, 1, 10, 100);
  }

  @Test
  void aResumeKeepsTheRoundsBeforeItsCheckpointAndTheRunsStart(@TempDir Path out) throws Exception {
    RunSettings s = new RunSettings(LlamaConfig.preset("tiny").withVocabSize(64),
        RunConfig.DEFAULTS.with(java.util.Map.of("rounds", 6, "workers", 2)), "d");
    RunSummary.fresh().write(out, s, 5.5, List.of(round(0, 4.0), round(1, 3.5), round(2, 3.2)), 10);
    // Killed after round 3; its checkpoint was after round 2 (next round 2): round 3 is trained again.
    RunSummary earlier = RunSummary.earlier(out, 2);
    assertEquals(2, earlier.earlierRounds().size());
    earlier.write(out, s, 3.5, List.of(round(2, 3.1), round(3, 3.0), round(4, 2.9), round(5, 2.8)), 7);

    JsonNode back = new ObjectMapper().readTree(out.resolve(RunSummary.FILE).toFile());
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), back.get("round_results").findValues("round").stream()
        .map(JsonNode::asLong).toList());
    assertEquals(3.1, back.get("round_results").get(2).get("validationLoss").asDouble());
    assertEquals(5.5, back.get("initial_validation_loss").asDouble()); // the run's start, not the resume's
    assertEquals(17.0, back.get("seconds").asDouble());
    assertEquals(0.5, back.get("round_efficiency").asDouble());
    assertEquals(6, back.get("config").get("rounds").asInt());
  }
}
