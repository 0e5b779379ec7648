package io.orthoslice.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The heap launch and sweep give their children follows the model: 1 GiB for the small presets, and
 * for 60m with the GPT-2 vocabulary at least the 8 GiB that ran on the H200 (1 GiB ran out of
 * memory in round 1 and left the run waiting on workers that had died).
 */
class LaunchHeapTest {

  @TempDir Path dir;

  @Test
  void theChildrensHeapGrowsWithTheModelAndItsVocabulary() {
    long tiny = LaunchCommand.parameters("tiny", "byte", null);
    assertEquals(LlamaConfig.preset("tiny").withVocabSize(257).parameterCount(), tiny);
    assertEquals(1024, LaunchCommand.childHeapMiB(tiny));
    long gpt2 = LaunchCommand.parameters("60m", "gpt2", null);
    assertEquals(LlamaConfig.preset("60m").withVocabSize(50_257).parameterCount(), gpt2);
    assertEquals(292.85, gpt2 * 4.0 / (1 << 20), 0.01); // the broadcast the coordinator logged on the device
    assertTrue(LaunchCommand.childHeapMiB(gpt2) >= 8192, "60m GPT-2 got " + LaunchCommand.childHeapMiB(gpt2) + " MiB");
    List<String> jvm = LaunchCommand.childJvm(gpt2, false);
    assertEquals(List.of("-Xmx" + LaunchCommand.childHeapMiB(gpt2) + "m", "-XX:+UseSerialGC"), jvm);
    // GPU processes keep the JVM's collector: a serial one in a hosting coordinator stops its worker.
    assertEquals(List.of("-Xmx" + LaunchCommand.childHeapMiB(gpt2) + "m"), LaunchCommand.childJvm(gpt2, true));
  }

  @Test
  void aPreparedDatasetGivesTheVocabularyAndABadOneIsOneLine() throws Exception {
    Files.writeString(dir.resolve("manifest.json"), "{\"formatVersion\": 1, \"tokenizerId\": \"x\", \"vocabSize\": 32000,"
        + " \"eosId\": 0, \"bosId\": 0, \"dtype\": \"uint16\", \"sources\": [],"
        + " \"train\": {\"tokens\": 0, \"documents\": 0, \"shards\": []},"
        + " \"validation\": {\"tokens\": 0, \"documents\": 0, \"shards\": []}}");
    assertEquals(LlamaConfig.preset("20m").withVocabSize(32_000).parameterCount(),
        LaunchCommand.parameters("20m", "byte", dir));
    Path empty = dir.resolve("empty");
    Files.createDirectories(empty);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LaunchCommand.parameters("20m", "byte", empty));
    assertEquals("--data " + empty + ": no readable manifest.json with a vocabSize; give a directory made by"
        + " orthoslice prepare-data", e.getMessage());
  }
}
