package io.orthoslice.common.checkpoint;

import static io.orthoslice.common.checkpoint.CheckpointFixtures.BOS;
import static io.orthoslice.common.checkpoint.CheckpointFixtures.EOS;
import static io.orthoslice.common.checkpoint.CheckpointFixtures.TINY;
import static io.orthoslice.common.checkpoint.SafetensorsTest.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.model.LlamaConfig;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  private NDManager manager;
  private CheckpointStore store;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
    store = new CheckpointStore(tmp.resolve("checkpoints"), 2);
  }

  @AfterEach
  void close() {
    manager.close();
  }

  private Path save(CheckpointStore s, long step) throws IOException {
    return s.save(CheckpointStore.stepName(step), CheckpointFixtures.checkpoint(manager, step));
  }

  private List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static void assertSameArrays(Map<String, NDArray> want, Map<String, NDArray> got) {
    assertEquals(List.copyOf(want.keySet()), List.copyOf(got.keySet()));
    for (String n : want.keySet()) {
      assertEquals(want.get(n).getDataType(), got.get(n).getDataType(), n);
      assertEquals(want.get(n).getShape(), got.get(n).getShape(), n);
      assertArrayEquals(bytes(want.get(n)), bytes(got.get(n)), n);
    }
  }

  @Test
  void saveThenLoadIsBitExact() throws IOException {
    Checkpoint in = CheckpointFixtures.checkpoint(manager, 120);
    Path dir = store.save(CheckpointStore.stepName(120), in);
    assertEquals("step-00000120", dir.getFileName().toString());
    assertEquals(List.of("checksums.json", "config.json", "model.safetensors", "optimizer.safetensors",
        "trainer_state.json"), names(dir));
    Checkpoint out = store.load(dir, manager, DataType.FLOAT32);
    assertEquals(in.config(), out.config());
    assertEquals(BOS, out.bosTokenId());
    assertEquals(EOS, out.eosTokenId());
    assertEquals(in.trainerState(), out.trainerState());
    assertSameArrays(in.weights(), out.weights());
    assertSameArrays(in.optimizerState(), out.optimizerState());
  }

  @Test
  void configJsonIsExactlyToHuggingFace() throws IOException {
    Path dir = save(store, 1);
    Map<?, ?> written = JSON.readValue(dir.resolve("config.json").toFile(), Map.class);
    assertEquals(TINY.toHuggingFace(BOS, EOS), written);
  }

  @Test
  void flippedByteIsReportedWithTheFileName() throws IOException {
    Path dir = save(store, 1);
    Path model = dir.resolve("model.safetensors");
    byte[] b = Files.readAllBytes(model);
    b[b.length - 1] ^= 1;
    Files.write(model, b);
    IOException e = assertThrows(IOException.class, () -> store.load(dir, manager, DataType.FLOAT32));
    assertTrue(e.getMessage().contains("model.safetensors is corrupt: SHA-256"), e.getMessage());
  }

  @Test
  void aDirectoryThatCannotBeWrittenIsNamedWithTheKindOfFailure() throws IOException {
    Path file = Files.writeString(store.root().resolveSibling("not-a-directory"), "x");
    CheckpointStore blocked = new CheckpointStore(file.resolve("checkpoints"), 2);
    IOException e = assertThrows(IOException.class,
        () -> blocked.save(CheckpointStore.stepName(3), CheckpointFixtures.checkpoint(manager, 3)));
    String msg = e.getMessage();
    assertTrue(msg.startsWith("writing checkpoint " + file.resolve("checkpoints").resolve("step-00000003") + " failed (")
        && msg.endsWith("no earlier checkpoint was there; fix the directory (space, permissions) and rerun with --resume"),
        msg);
  }

  @Test
  void savingOverAnExistingNameFailsAndKeepsTheOriginal() throws IOException {
    Path dir = save(store, 5);
    byte[] before = Files.readAllBytes(dir.resolve("model.safetensors"));
    assertThrows(FileAlreadyExistsException.class,
        () -> store.save(CheckpointStore.stepName(5), CheckpointFixtures.checkpoint(manager, 6)));
    assertArrayEquals(before, Files.readAllBytes(dir.resolve("model.safetensors")));
    assertTrue(Checksums.verify(dir));
  }

  @Test
  void pruningKeepsTheNewestAndLeavesForeignDirectories() throws IOException {
    Files.createDirectories(store.root().resolve("notes"));
    Path export = store.save("export", new Checkpoint(TINY, CheckpointFixtures.weights(TINY, manager, 1), null, null,
        BOS, EOS));
    for (long step : new long[] {10, 20, 30}) {
      save(store, step);
    }
    assertEquals(List.of("export", "notes", "step-00000020", "step-00000030"), names(store.root()));
    assertEquals(Optional.of(store.root().resolve("step-00000030")), store.latest());
    assertTrue(Files.isDirectory(export));
  }

  @Test
  void latestFollowsTheRecordedStepNotTheName() throws IOException {
    CheckpointStore s = new CheckpointStore(tmp.resolve("c"), 5);
    s.save("zzz", CheckpointFixtures.checkpoint(manager, 5));
    s.save("aaa", CheckpointFixtures.checkpoint(manager, 7));
    assertEquals(Optional.of(s.root().resolve("aaa")), s.latest());
  }

  @Test
  void justWrittenCheckpointSurvivesPruningEvenWhenOlder() throws IOException {
    CheckpointStore s = new CheckpointStore(tmp.resolve("c"), 1);
    save(s, 30);
    s.save("branch", CheckpointFixtures.checkpoint(manager, 5));
    assertEquals(List.of("branch", "step-00000030"), names(s.root()));
  }

  @Test
  void interruptedSaveIsIgnoredThenCleanedUp() throws IOException {
    Path done = save(store, 10);
    // A crash mid-save leaves a temporary directory, here even with a higher step inside.
    Path partial = store.root().resolve("step-00000020" + AtomicFiles.TMP_MARKER + "dead");
    Files.createDirectory(partial);
    for (String f : names(done)) {
      Files.copy(done.resolve(f), partial.resolve(f));
    }
    Files.writeString(partial.resolve("trainer_state.json"), JSON.writeValueAsString(CheckpointFixtures.state(20).toJson()));
    Files.createDirectory(store.root().resolve("step-00000001" + AtomicFiles.DELETING_MARKER + "dead"));
    assertEquals(Optional.of(done), store.latest());
    save(store, 11);
    assertEquals(List.of("step-00000010", "step-00000011"), names(store.root()));
  }

  @Test
  void unreadableTrainerStateStopsLatestInsteadOfFallingBack() throws IOException {
    save(store, 10);
    Path newer = save(store, 20);
    Files.writeString(newer.resolve("trainer_state.json"), "{\"step\": ");
    IOException e = assertThrows(IOException.class, () -> store.latest());
    assertTrue(e.getMessage().contains("step-00000020"), e.getMessage());
  }

  @Test
  void plainHuggingFaceDirectoryLoadsWithoutTrainerState() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("hf"));
    Map<String, Object> config = new LinkedHashMap<>(TINY.toHuggingFace(0, 3));
    config.put("transformers_version", "4.44.0");
    JSON.writeValue(dir.resolve("config.json").toFile(), config);
    Map<String, NDArray> weights = CheckpointFixtures.weights(TINY, manager, 3);
    Map<String, NDArray> file = new LinkedHashMap<>(weights);
    // Older exports carry rotary buffers that the model recomputes; they are skipped.
    file.put("model.layers.0.self_attn.rotary_emb.inv_freq", manager.create(new float[8]));
    Safetensors.write(dir.resolve("model.safetensors"), file, Map.of());
    Checkpoint c = store.load(dir, manager, DataType.FLOAT32);
    assertEquals(TINY, c.config());
    assertNull(c.trainerState());
    assertEquals(Map.of(), c.optimizerState());
    assertEquals(0, c.bosTokenId());
    assertEquals(3, c.eosTokenId());
    assertSameArrays(weights, c.weights());
  }

  @Test
  void shardedBf16DirectoryWithTiedEmbeddingsLoadsAsFloat64() throws IOException {
    LlamaConfig tied = new LlamaConfig(96, 64, 176, 2, 4, 4, 256, 1e-6, 10000.0, true, 0.02);
    Path dir = Files.createDirectories(tmp.resolve("hf"));
    Map<String, Object> config = new LinkedHashMap<>(tied.toHuggingFace(1, 2));
    config.put("eos_token_id", List.of(2, 5));
    config.put("torch_dtype", "bfloat16");
    JSON.writeValue(dir.resolve("config.json").toFile(), config);
    Map<String, float[]> values = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    CheckpointFixtures.weights(tied, manager, 4).forEach((n, a) -> {
      float[] v = a.toFloatArray();
      for (int i = 0; i < v.length; i++) {
        v[i] = Float.intBitsToFloat(Float.floatToIntBits(v[i]) & 0xFFFF0000); // exactly representable in bf16
      }
      values.put(n, v);
      shapes.put(n, a.getShape().getShape());
    });
    Map<String, String> weightMap = new LinkedHashMap<>();
    Map<String, float[]> shard1 = new LinkedHashMap<>();
    Map<String, float[]> shard2 = new LinkedHashMap<>();
    int i = 0;
    for (String n : values.keySet()) {
      boolean first = i++ < values.size() / 2;
      (first ? shard1 : shard2).put(n, values.get(n));
      weightMap.put(n, first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
    }
    // Some exporters write the tied head anyway; it is not a parameter of a tied model.
    shard2.put("lm_head.weight", values.get("model.embed_tokens.weight"));
    shapes.put("lm_head.weight", shapes.get("model.embed_tokens.weight"));
    weightMap.put("lm_head.weight", "model-00002-of-00002.safetensors");
    Bf16Files.write(dir.resolve("model-00001-of-00002.safetensors"), shard1, shapes);
    Bf16Files.write(dir.resolve("model-00002-of-00002.safetensors"), shard2, shapes);
    JSON.writeValue(dir.resolve("model.safetensors.index.json").toFile(),
        Map.of("metadata", Map.of("total_size", 0), "weight_map", weightMap));

    Checkpoint c = store.load(dir, manager, DataType.FLOAT64);
    assertEquals(tied, c.config());
    assertEquals(2, c.eosTokenId());
    assertEquals(List.copyOf(values.keySet()), List.copyOf(c.weights().keySet()));
    for (String n : values.keySet()) {
      NDArray w = c.weights().get(n);
      assertEquals(DataType.FLOAT64, w.getDataType(), n);
      assertEquals(new Shape(shapes.get(n)), w.getShape(), n);
      float[] v = values.get(n);
      double[] want = new double[v.length];
      for (int k = 0; k < v.length; k++) {
        want[k] = v[k];
      }
      assertArrayEquals(want, w.toDoubleArray(), n);
    }
  }

  @Test
  void missingAndMisshapedParametersAreListed() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("hf"));
    JSON.writeValue(dir.resolve("config.json").toFile(), TINY.toHuggingFace(BOS, EOS));
    Map<String, NDArray> w = new LinkedHashMap<>(CheckpointFixtures.weights(TINY, manager, 1));
    w.remove("model.layers.1.self_attn.q_proj.weight");
    w.put("model.layers.0.mlp.up_proj.weight", manager.zeros(new Shape(176, 63)));
    Safetensors.write(dir.resolve("model.safetensors"), w, Map.of());
    IOException e = assertThrows(IOException.class, () -> store.load(dir, manager, DataType.FLOAT32));
    assertTrue(e.getMessage().endsWith("the weights do not match config.json: 1 missing: "
        + "model.layers.1.self_attn.q_proj.weight; 1 with the wrong shape: model.layers.0.mlp.up_proj.weight has "
        + "shape (176, 63), expected (176, 64)"), e.getMessage());
  }

  @Test
  void saveRefusesWeightsTheModelDoesNotHave() {
    Map<String, NDArray> w = new LinkedHashMap<>(CheckpointFixtures.weights(TINY, manager, 1));
    w.put("extra.weight", manager.zeros(new Shape(2)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> store.save("x", new Checkpoint(TINY, w, null, null, BOS, EOS)));
    assertTrue(e.getMessage().endsWith("1 not in the model: extra.weight"), e.getMessage());
  }

  @Test
  void failedLoadLeavesNothingAllocated() throws IOException {
    Path dir = save(store, 3);
    Files.delete(dir.resolve("checksums.json"));
    Path opt = dir.resolve("optimizer.safetensors");
    byte[] b = Files.readAllBytes(opt);
    Files.write(opt, java.util.Arrays.copyOf(b, b.length - 1));
    try (NDManager m = manager.newSubManager()) {
      IOException e = assertThrows(IOException.class, () -> store.load(dir, m, DataType.FLOAT32));
      assertTrue(e.getMessage().contains("truncated"), e.getMessage());
      assertEquals(0, m.getManagedArrays().size());
    }
  }
}
