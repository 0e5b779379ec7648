package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Round efficiency: training seconds over round seconds, on the round's line and in its JSON. */
class RoundResultTest {

  private static RoundResult round(List<Integer> merged, double train, double round) {
    return new RoundResult(2, 2, merged, 3, 3.1, 3.0, 1024, 4096, 2048, 0.5, 0.1, 0.4, train, round, 60.7, 2800, 512);
  }

  @Test
  void efficiencyIsTrainingOverTheRoundOnTheLineAndInTheSummary() throws Exception {
    RoundResult r = round(List.of(0, 1), 3.4, 8.92);
    assertEquals(3.4 / 8.92, r.roundEfficiency(), 0);
    assertTrue(r.line(3).endsWith("round 8.92 s (training 38% of it)"), r.line(3));
    JsonNode json = new ObjectMapper().readTree(new ObjectMapper().writeValueAsString(r));
    assertEquals(3.4 / 8.92, json.get("roundEfficiency").asDouble(), 0);
  }

  @Test
  void aRoundThatMergedNothingHasNoEfficiency() {
    RoundResult r = round(List.of(), 0, 60);
    assertTrue(Double.isNaN(r.roundEfficiency()));
    assertTrue(r.line(3).endsWith("(training - of it)"), r.line(3));
  }
}
