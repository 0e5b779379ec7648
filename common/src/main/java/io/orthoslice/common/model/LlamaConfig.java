package io.orthoslice.common.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Shape of a Llama ("Transformer++") model: RMSNorm, rotary attention, SwiGLU MLP, no biases.
 *
 * <p>Field names mirror Hugging Face's {@code LlamaConfig} so that {@link #toHuggingFace()} and
 * {@link #fromHuggingFace(Map)} map one to one onto {@code config.json}.
 */
public record LlamaConfig(
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int maxPositionEmbeddings,
    double rmsNormEps,
    double ropeTheta,
    boolean tieWordEmbeddings,
    double initializerRange) {

  public LlamaConfig {
    requirePositive("vocab_size", vocabSize);
    requirePositive("hidden_size", hiddenSize);
    requirePositive("intermediate_size", intermediateSize);
    requirePositive("num_hidden_layers", numLayers);
    requirePositive("num_attention_heads", numHeads);
    requirePositive("num_key_value_heads", numKvHeads);
    requirePositive("max_position_embeddings", maxPositionEmbeddings);
    if (hiddenSize % numHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " must be divisible by num_attention_heads " + numHeads);
    }
    if ((hiddenSize / numHeads) % 2 != 0) {
      throw new IllegalArgumentException(
          "head dimension hidden_size/num_attention_heads = "
              + hiddenSize / numHeads
              + " must be even for rotary embeddings");
    }
    if (numHeads % numKvHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads " + numHeads + " must be a multiple of num_key_value_heads " + numKvHeads);
    }
    if (!(rmsNormEps > 0) || !(ropeTheta > 0) || !(initializerRange > 0)) {
      throw new IllegalArgumentException(
          "rms_norm_eps, rope_theta and initializer_range must be positive");
    }
  }

  private static void requirePositive(String field, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " must be a positive integer, got " + value);
    }
  }

  /** Named presets; the larger ones have GaLore's shapes (jiaweizzhao/GaLore configs/llama_*.json). */
  public static final Map<String, LlamaConfig> PRESETS = presets();

  private static Map<String, LlamaConfig> presets() {
    Map<String, LlamaConfig> p = new LinkedHashMap<>();
    p.put("tiny", of(64, 176, 2, 4, 256));
    p.put("20m", of(256, 688, 4, 4, 1024));
    p.put("60m", of(512, 1376, 8, 8, 1024));
    p.put("130m", of(768, 2048, 12, 12, 1024));
    p.put("350m", of(1024, 2736, 24, 16, 1024));
    p.put("1b", of(2048, 5461, 24, 32, 1024));
    return Map.copyOf(p);
  }

  private static LlamaConfig of(int hidden, int inter, int layers, int heads, int maxPos) {
    // Vocabulary is set from the tokenizer at run time (withVocabSize); 32000 is GaLore's T5 vocab.
    return new LlamaConfig(32000, hidden, inter, layers, heads, heads, maxPos, 1e-6, 10000.0, false, 0.02);
  }

  public static List<String> presetNames() {
    return List.of("tiny", "20m", "60m", "130m", "350m", "1b");
  }

  /** Looks up a preset; the error names every allowed value. */
  public static LlamaConfig preset(String name) {
    LlamaConfig c = PRESETS.get(name.toLowerCase(Locale.ROOT));
    if (c == null) {
      throw new IllegalArgumentException(
          "unknown preset '" + name + "'; allowed: " + String.join(", ", presetNames()));
    }
    return c;
  }

  public LlamaConfig withVocabSize(int v) {
    return new LlamaConfig(v, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
        maxPositionEmbeddings, rmsNormEps, ropeTheta, tieWordEmbeddings, initializerRange);
  }

  public LlamaConfig withMaxPositionEmbeddings(int p) {
    return new LlamaConfig(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
        p, rmsNormEps, ropeTheta, tieWordEmbeddings, initializerRange);
  }

  public int headDim() {
    return hiddenSize / numHeads;
  }

  public int kvDim() {
    return numKvHeads * headDim();
  }

  /** Every parameter in Hugging Face LlamaForCausalLM order, with its shape and role. */
  public List<ParameterSpec> parameters() {
    List<ParameterSpec> out = new ArrayList<>();
    out.add(new ParameterSpec("model.embed_tokens.weight", vocabSize, hiddenSize, ParameterSpec.Role.EMBEDDING));
    for (int i = 0; i < numLayers; i++) {
      String l = "model.layers." + i + ".";
      out.add(new ParameterSpec(l + "self_attn.q_proj.weight", hiddenSize, hiddenSize, ParameterSpec.Role.PROJECTED));
      out.add(new ParameterSpec(l + "self_attn.k_proj.weight", kvDim(), hiddenSize, ParameterSpec.Role.PROJECTED));
      out.add(new ParameterSpec(l + "self_attn.v_proj.weight", kvDim(), hiddenSize, ParameterSpec.Role.PROJECTED));
      out.add(new ParameterSpec(l + "self_attn.o_proj.weight", hiddenSize, hiddenSize, ParameterSpec.Role.PROJECTED));
      out.add(new ParameterSpec(l + "mlp.gate_proj.weight", intermediateSize, hiddenSize, ParameterSpec.Role.PROJECTED));
      out.add(new ParameterSpec(l + "mlp.up_proj.weight", intermediateSize, hiddenSize, ParameterSpec.Role.PROJECTED));
      out.add(new ParameterSpec(l + "mlp.down_proj.weight", hiddenSize, intermediateSize, ParameterSpec.Role.PROJECTED));
      out.add(new ParameterSpec(l + "input_layernorm.weight", hiddenSize, 0, ParameterSpec.Role.NORM));
      out.add(new ParameterSpec(l + "post_attention_layernorm.weight", hiddenSize, 0, ParameterSpec.Role.NORM));
    }
    out.add(new ParameterSpec("model.norm.weight", hiddenSize, 0, ParameterSpec.Role.NORM));
    if (!tieWordEmbeddings) {
      out.add(new ParameterSpec("lm_head.weight", vocabSize, hiddenSize, ParameterSpec.Role.HEAD));
    }
    return out;
  }

  public long parameterCount() {
    return parameters().stream().mapToLong(ParameterSpec::numel).sum();
  }

  /** The Hugging Face {@code config.json} content for this shape. */
  public Map<String, Object> toHuggingFace(int bosTokenId, int eosTokenId) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("architectures", List.of("LlamaForCausalLM"));
    m.put("model_type", "llama");
    m.put("vocab_size", vocabSize);
    m.put("hidden_size", hiddenSize);
    m.put("intermediate_size", intermediateSize);
    m.put("num_hidden_layers", numLayers);
    m.put("num_attention_heads", numHeads);
    m.put("num_key_value_heads", numKvHeads);
    m.put("head_dim", headDim());
    m.put("max_position_embeddings", maxPositionEmbeddings);
    m.put("rms_norm_eps", rmsNormEps);
    m.put("rope_theta", ropeTheta);
    m.put("rope_scaling", null);
    m.put("hidden_act", "silu");
    m.put("attention_bias", false);
    m.put("attention_dropout", 0.0);
    m.put("mlp_bias", false);
    m.put("initializer_range", initializerRange);
    m.put("pretraining_tp", 1);
    m.put("tie_word_embeddings", tieWordEmbeddings);
    m.put("bos_token_id", bosTokenId);
    m.put("eos_token_id", eosTokenId);
    m.put("torch_dtype", "float32");
    m.put("use_cache", true);
    return m;
  }

  /** Reads a Hugging Face {@code config.json} map; missing optional keys take Llama defaults. */
  public static LlamaConfig fromHuggingFace(Map<String, ?> m) {
    Object type = m.get("model_type");
    if (type != null && !"llama".equals(type)) {
      throw new IllegalArgumentException("config.json model_type is '" + type + "'; only 'llama' is supported");
    }
    Object act = m.get("hidden_act");
    if (act != null && !"silu".equals(act)) {
      throw new IllegalArgumentException("config.json hidden_act is '" + act + "'; only 'silu' is supported");
    }
    // transformers >= 5 writes rope settings under rope_parameters; scaled variants (e.g. Llama 3.1's
    // "llama3") change the frequencies, which this model does not implement, so they are refused.
    double ropeTheta = doubleField(m, "rope_theta", 10000.0);
    for (String key : new String[] {"rope_parameters", "rope_scaling"}) {
      Object rope = m.get(key);
      if (rope instanceof Map<?, ?> r) {
        Object ropeType = r.containsKey("rope_type") ? r.get("rope_type") : r.get("type");
        if (ropeType != null && !"default".equals(ropeType)) {
          throw new IllegalArgumentException("config.json " + key + " has rope_type '" + ropeType
              + "'; only 'default' rotary embeddings are supported");
        }
        if (r.get("rope_theta") instanceof Number t) {
          ropeTheta = t.doubleValue();
        }
      }
    }
    int heads = intField(m, "num_attention_heads", null);
    int hidden = intField(m, "hidden_size", null);
    Object hd = m.get("head_dim");
    if (hd != null && ((Number) hd).intValue() != hidden / heads) {
      throw new IllegalArgumentException("config.json head_dim " + hd + " must equal hidden_size/num_attention_heads");
    }
    return new LlamaConfig(
        intField(m, "vocab_size", null),
        hidden,
        intField(m, "intermediate_size", null),
        intField(m, "num_hidden_layers", null),
        heads,
        intField(m, "num_key_value_heads", heads),
        intField(m, "max_position_embeddings", 2048),
        doubleField(m, "rms_norm_eps", 1e-6),
        ropeTheta,
        Boolean.TRUE.equals(m.get("tie_word_embeddings")),
        doubleField(m, "initializer_range", 0.02));
  }

  private static int intField(Map<String, ?> m, String key, Integer dflt) {
    Object v = m.get(key);
    if (v == null) {
      if (dflt == null) {
        throw new IllegalArgumentException("config.json is missing required field '" + key + "'");
      }
      return dflt;
    }
    if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
      throw new IllegalArgumentException("config.json field '" + key + "' must be an integer, got " + v);
    }
    return n.intValue();
  }

  private static double doubleField(Map<String, ?> m, String key, double dflt) {
    Object v = m.get(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof Number n)) {
      throw new IllegalArgumentException("config.json field '" + key + "' must be a number, got " + v);
    }
    return n.doubleValue();
  }
}
