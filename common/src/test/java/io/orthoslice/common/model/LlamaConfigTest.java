package io.orthoslice.common.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LlamaConfigTest {

  private static Map<String, Object> base() {
    Map<String, Object> m = new HashMap<>(LlamaConfig.preset("tiny").withVocabSize(257).toHuggingFace(256, 256));
    m.remove("rope_theta");
    return m;
  }

  @Test
  void huggingFaceConfigRoundTripsExactly() {
    LlamaConfig c = LlamaConfig.preset("60m").withVocabSize(32000);
    assertEquals(c, LlamaConfig.fromHuggingFace(c.toHuggingFace(1, 2)));
  }

  @Test
  void ropeThetaIsReadFromTransformers5RopeParameters() {
    Map<String, Object> m = base();
    m.put("rope_parameters", Map.of("rope_type", "default", "rope_theta", 500000.0));
    assertEquals(500000.0, LlamaConfig.fromHuggingFace(m).ropeTheta());
  }

  @Test
  void scaledRotaryVariantsAreRefused() {
    Map<String, Object> m = base();
    m.put("rope_scaling", Map.of("rope_type", "llama3", "factor", 8.0));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromHuggingFace(m));
    assertTrue(e.getMessage().contains("llama3"), e.getMessage());
  }

  @Test
  void presetsHaveGaloreShapes() {
    LlamaConfig b = LlamaConfig.preset("1b");
    assertEquals(2048, b.hiddenSize());
    assertEquals(5461, b.intermediateSize());
    assertEquals(32, b.numHeads());
    assertEquals(24, b.numLayers());
    LlamaConfig m = LlamaConfig.preset("350m");
    assertEquals(16, m.numHeads());
    assertEquals(24, m.numLayers());
  }
}
