package io.orthoslice.common.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.model.LlamaConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code LlamaForCausalLM.from_pretrained(dir)} needs, checked without Python: we cannot run
 * transformers here (no PyPI), so this test writes down, independently of
 * {@link LlamaConfig#parameters()}, the state-dict that transformers' {@code modeling_llama.py}
 * module tree produces, and reads our files with plain Jackson rather than our own reader.
 *
 * <p>Module tree: {@code model.embed_tokens = Embedding(vocab, hidden)}; per layer i,
 * {@code model.layers.i.self_attn.{q,k,v,o}_proj}, {@code mlp.{gate,up,down}_proj} (all
 * {@code Linear(bias=False)}), {@code input_layernorm} and {@code post_attention_layernorm}
 * ({@code RMSNorm(hidden)}); {@code model.norm}; {@code lm_head = Linear(hidden, vocab)} unless the
 * embeddings are tied. {@code Linear(in, out).weight} has shape (out, in). Rotary buffers are not
 * persistent, so they are not in the state-dict. transformers also refuses a safetensors file
 * whose {@code __metadata__.format} is not a framework it knows ("pt").
 */
class HuggingFaceLayoutTest {

  @TempDir Path tmp;

  /** Grouped-query attention (4 heads, 2 kv heads) so that k/v shapes differ from q. */
  private static final LlamaConfig GQA = new LlamaConfig(100, 32, 80, 2, 4, 2, 64, 1e-5, 10000.0, false, 0.02);

  /** Name -> shape, from the Hugging Face module tree above. */
  private static Map<String, List<Long>> huggingFaceStateDict(
      long vocab, long hidden, long inter, int layers, long heads, long kvHeads, boolean tied) {
    long headDim = hidden / heads;
    Map<String, List<Long>> m = new TreeMap<>();
    m.put("model.embed_tokens.weight", List.of(vocab, hidden));
    for (int i = 0; i < layers; i++) {
      String p = "model.layers." + i + ".";
      m.put(p + "self_attn.q_proj.weight", List.of(heads * headDim, hidden));
      m.put(p + "self_attn.k_proj.weight", List.of(kvHeads * headDim, hidden));
      m.put(p + "self_attn.v_proj.weight", List.of(kvHeads * headDim, hidden));
      m.put(p + "self_attn.o_proj.weight", List.of(hidden, heads * headDim));
      m.put(p + "mlp.gate_proj.weight", List.of(inter, hidden));
      m.put(p + "mlp.up_proj.weight", List.of(inter, hidden));
      m.put(p + "mlp.down_proj.weight", List.of(hidden, inter));
      m.put(p + "input_layernorm.weight", List.of(hidden));
      m.put(p + "post_attention_layernorm.weight", List.of(hidden));
    }
    m.put("model.norm.weight", List.of(hidden));
    if (!tied) {
      m.put("lm_head.weight", List.of(vocab, hidden));
    }
    return m;
  }

  /** The safetensors header as transformers' loader sees it, parsed without our reader. */
  private static JsonNode rawHeader(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    return new ObjectMapper().readTree(new String(b, 8, (int) n, StandardCharsets.UTF_8));
  }

  private static Map<String, List<Long>> shapesIn(JsonNode header) {
    Map<String, List<Long>> out = new TreeMap<>();
    header.properties().forEach(e -> {
      if (!e.getKey().equals("__metadata__")) {
        List<Long> shape = new ArrayList<>();
        e.getValue().get("shape").forEach(d -> shape.add(d.longValue()));
        out.put(e.getKey(), shape);
      }
    });
    return out;
  }

  private Path save(LlamaConfig c) throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> w = CheckpointFixtures.weights(c, m, 1);
      return new CheckpointStore(tmp, 1).save("hf", new Checkpoint(c, w, null, null, 1, 2));
    }
  }

  @Test
  void modelFileHoldsExactlyTheHuggingFaceStateDict() throws IOException {
    JsonNode header = rawHeader(save(GQA).resolve("model.safetensors"));
    assertEquals("pt", header.get("__metadata__").get("format").textValue());
    assertEquals(huggingFaceStateDict(100, 32, 80, 2, 4, 2, false), shapesIn(header));
    header.properties().forEach(e -> {
      if (!e.getKey().equals("__metadata__")) {
        assertEquals("F32", e.getValue().get("dtype").textValue(), e.getKey());
      }
    });
  }

  @Test
  void tiedModelFileHasNoLmHead() throws IOException {
    LlamaConfig tied = new LlamaConfig(100, 32, 80, 2, 4, 2, 64, 1e-5, 10000.0, true, 0.02);
    Map<String, List<Long>> shapes = shapesIn(rawHeader(save(tied).resolve("model.safetensors")));
    assertEquals(huggingFaceStateDict(100, 32, 80, 2, 4, 2, true), shapes);
    assertFalse(shapes.containsKey("lm_head.weight"));
  }

  @Test
  void configJsonRebuildsTheSameModelInTransformers() throws IOException {
    JsonNode cfg = new ObjectMapper().readTree(save(GQA).resolve("config.json").toFile());
    assertEquals("llama", cfg.get("model_type").textValue());
    assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).textValue());
    assertEquals(100, cfg.get("vocab_size").intValue());
    assertEquals(32, cfg.get("hidden_size").intValue());
    assertEquals(80, cfg.get("intermediate_size").intValue());
    assertEquals(2, cfg.get("num_hidden_layers").intValue());
    assertEquals(4, cfg.get("num_attention_heads").intValue());
    assertEquals(2, cfg.get("num_key_value_heads").intValue());
    assertEquals(8, cfg.get("head_dim").intValue());
    assertEquals(64, cfg.get("max_position_embeddings").intValue());
    assertEquals(1e-5, cfg.get("rms_norm_eps").doubleValue());
    assertEquals(10000.0, cfg.get("rope_theta").doubleValue());
    assertEquals("silu", cfg.get("hidden_act").textValue());
    assertFalse(cfg.get("attention_bias").booleanValue());
    assertFalse(cfg.get("mlp_bias").booleanValue());
    assertFalse(cfg.get("tie_word_embeddings").booleanValue());
    assertEquals(1, cfg.get("bos_token_id").intValue());
    assertEquals(2, cfg.get("eos_token_id").intValue());
  }
}
