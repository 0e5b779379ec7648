package io.orthoslice.common.model;

import io.orthoslice.common.kernels.Kernels;
import io.orthoslice.common.kernels.NativeKernels;
import io.orthoslice.common.tensor.Cast;
import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;

/**
 * The Llama ("Transformer++") forward pass, read top to bottom like the paper draws it: embed, then
 * per block RMSNorm -> causal rotary self-attention -> residual, RMSNorm -> SwiGLU -> residual; final
 * RMSNorm; output head. Parameter names are Hugging Face LlamaForCausalLM's.
 *
 * <p>Memory: the arrays it returns belong to the manager of the input tokens (the caller's scope).
 * Each block runs in a scope of its own whose only survivor is the block's output: closing a handle
 * releases only our reference, autograd keeps what it saved for backward, so the intermediates it
 * does not need (the attention scores before softmax, the casts, the sums) are freed as the forward
 * pass goes instead of living until the step ends. The causal mask and the rotary tables are made
 * once per (length, dtype) in the cache manager, when one is given.
 */
public final class Llama {

  private final LlamaConfig config;
  private final RotaryEmbedding rope;
  private final NDManager cache;
  private final GemmAlignment alignment;
  private final ChunkedLoss chunking;
  private final java.util.Map<String, NDArray[]> tables = new java.util.HashMap<>();

  /** Without a cache: the mask and rotary tables are built in each call's scope. */
  public Llama(LlamaConfig config) {
    this(config, null);
  }

  /**
   * @param cache owns the mask and rotary tables, made once per (sequence length, dtype) on its
   *     device; they live as long as it does (a trainer passes its root manager)
   */
  public Llama(LlamaConfig config, NDManager cache) {
    this(config, cache, GemmAlignment.defaults());
  }

  /** @param alignment how far unaligned GEMM widths (the MLP's; in fp16 the vocabulary) are zero-padded, per device */
  public Llama(LlamaConfig config, NDManager cache, GemmAlignment alignment) {
    this(config, cache, alignment, ChunkedLoss.defaults());
  }

  /** @param chunking when and how finely the loss runs the head in chunks of tokens ({@link ChunkedLoss}) */
  public Llama(LlamaConfig config, NDManager cache, GemmAlignment alignment, ChunkedLoss chunking) {
    this.config = config;
    this.rope = new RotaryEmbedding(config.headDim(), config.ropeTheta());
    this.cache = cache;
    this.alignment = alignment;
    this.chunking = chunking;
  }

  /** This model with another GEMM alignment (the same tables cache and loss chunking). */
  public Llama withAlignment(GemmAlignment alignment) {
    return new Llama(config, cache, alignment, chunking);
  }

  /** This model with another chunking of the loss (the same tables cache and alignment). */
  public Llama withChunking(ChunkedLoss chunking) {
    return new Llama(config, cache, alignment, chunking);
  }

  public LlamaConfig config() {
    return config;
  }

  /**
   * @param tokens (B, T) int64 token ids
   * @param dtype compute dtype (FLOAT32 / FLOAT64, or FLOAT16 with fp32 master weights)
   * @return logits (B, T, V) in float32 or float64 (the loss is never computed in fp16)
   */
  public NDArray forward(Weights w, NDArray tokens, DataType dtype) {
    return head(w, trunk(w, tokens, dtype), dtype);
  }

  /** The embedding and every block: the last block's output (B, T, H), the head's input before its norm. */
  public NDArray trunk(Weights w, NDArray tokens, DataType dtype) {
    NDArray h = embed(w, tokens); // (B, T, H)
    for (int i = 0; i < config.numLayers(); i++) {
      h = block(w, i, h, dtype);
    }
    return h;
  }

  /** The token embeddings (B, T, H), in the tokens' manager; checks the sequence length. */
  public NDArray embed(Weights w, NDArray tokens) {
    int seq = (int) tokens.getShape().get(1);
    if (seq > config.maxPositionEmbeddings()) {
      throw new IllegalArgumentException(
          "sequence length " + seq + " exceeds max_position_embeddings " + config.maxPositionEmbeddings());
    }
    return embed(w.dense("model.embed_tokens.weight"), tokens);
  }

  /**
   * Block {@code i}: RMSNorm -> attention -> residual, RMSNorm -> SwiGLU -> residual. Runs in a scope
   * of its own; the output (B, T, H) belongs to {@code h}'s manager.
   */
  public NDArray block(Weights w, int i, NDArray h, DataType dtype) {
    NDManager m = h.getManager();
    long batch = h.getShape().get(0);
    int seq = (int) h.getShape().get(1);
    NDArray[] t = tables(m, seq, dtype);
    NDArray[] cosSin = {t[0], t[1]}; // (T, hd) each
    NDArray mask = t[2]; // (T, T): 0 on and below the diagonal, -inf above
    String p = "model.layers." + i + ".";
    try (NDManager block = m.newSubManager()) {
      block.tempAttachAll(h); // every intermediate of the block lands in its scope
      NDArray x = rmsNorm(h, w.dense(p + "input_layernorm.weight"));
      NDArray[] normedAndMid = addRmsNorm(h, attention(w, p + "self_attn.", x, cosSin, mask, batch, seq),
          w.dense(p + "post_attention_layernorm.weight"));
      NDArray mid = normedAndMid[1]; // h + attention
      x = normedAndMid[0];
      NDArray out = mid.add(swiGlu(w, p + "mlp.", x));
      out.attach(m);
      return out;
    }
  }

  /**
   * Final RMSNorm and the output head: logits (B, T, V) in float32 or float64. In fp16 an unaligned
   * vocabulary ({@link GemmAlignment}; GPT-2's 50,257, the byte tokenizer's 257) runs its GEMM at the
   * padded width: the head gets zero rows, and the padded logits are dropped by the cast to fp32 the
   * loss needs anyway, so it costs no extra copy. In fp32 and fp64 that slice would be one more
   * (B, T, V) copy at the step's memory peak, so the head stays unpadded there.
   */
  public NDArray head(Weights w, NDArray h, DataType dtype) {
    NDArray x = rmsNorm(h, w.dense("model.norm.weight"));
    String head = headName();
    long vocab = config.vocabSize();
    long width = headWidth(x, dtype);
    if (width == vocab) {
      NDArray logits = x.matMul(w.dense(head).transpose()); // (B, T, V)
      return dtype == DataType.FLOAT16 ? Cast.to(logits, DataType.FLOAT32) : logits;
    }
    long d = config.hiddenSize();
    NDArray padded = w.linear(head, x, new PaddedMatrix(vocab, d, width, d)); // (B, T, width)
    // split, not an indexed get(): split's backward is a concatenation (see RotaryEmbedding.apply).
    NDList parts = padded.split(new long[] {vocab}, padded.getShape().dimension() - 1);
    parts.subNDList(1).close();
    return Cast.to(parts.get(0), DataType.FLOAT32); // (B, T, V), the padded logits left behind
  }

  private String headName() {
    return config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
  }

  /** The head's GEMM width: in fp16 the vocabulary aligned for x's device ({@link GemmAlignment}), else the vocabulary. */
  private long headWidth(NDArray x, DataType dtype) {
    long vocab = config.vocabSize();
    return dtype == DataType.FLOAT16 ? alignment.pad(vocab, x.getDevice()) : vocab;
  }

  /** Row lookup through torch's embedding op (its backward is the dense index-add). */
  static NDArray embed(NDArray table, NDArray tokens) {
    return tokens.getNDArrayInternal().embedding(tokens, table, SparseFormat.DENSE).singletonOrThrow();
  }

  /** Mean next-token cross-entropy in nats; targets (B, T) int64. On the tape: the logits in full. */
  public NDArray loss(Weights w, NDArray inputs, NDArray targets, DataType dtype) {
    return crossEntropy(forward(w, inputs, dtype), targets);
  }

  /** Whether a batch of {@code tokens} takes the chunked head ({@link #lossAndGradients}). */
  public boolean chunksLoss(long tokens) {
    return chunking.chunks(tokens, config.vocabSize());
  }

  /**
   * The final norm, the head and the mean loss of the last block's output {@code h} (B, T, H), in
   * chunks of tokens: the loss (float64, off the tape) and the scalar whose backward gives the
   * gradients of {@code gradScale} times it ({@link ChunkedLoss#lossAndGradients}).
   */
  public ChunkedLoss.Pass lossAndGradients(Weights w, NDArray h, NDArray targets, DataType dtype, double gradScale) {
    long d = config.hiddenSize();
    NDArray x = rmsNorm(h, w.dense("model.norm.weight")).reshape(-1, d);
    return chunking.lossAndGradients(x, headWeight(w, x, dtype), targets.reshape(-1), config.vocabSize(), gradScale);
  }

  /**
   * The mean loss off the tape (evaluation), float64: chunked like training's where the logits are
   * large, else {@link #loss}.
   */
  public NDArray evaluationLoss(Weights w, NDArray inputs, NDArray targets, DataType dtype) {
    if (!chunksLoss(inputs.size())) {
      return loss(w, inputs, targets, dtype).toType(DataType.FLOAT64, false);
    }
    NDArray x = rmsNorm(trunk(w, inputs, dtype), w.dense("model.norm.weight")).reshape(-1, config.hiddenSize());
    return chunking.loss(x, headWeight(w, x, dtype), targets.reshape(-1), config.vocabSize());
  }

  /** The head's weight (V, H) in {@code dtype}; in fp16, at the vocabulary's aligned width (zero rows). */
  private NDArray headWeight(Weights w, NDArray x, DataType dtype) {
    long vocab = config.vocabSize();
    long width = headWidth(x, dtype);
    NDArray dense = w.dense(headName());
    if (width == vocab) {
      return dense;
    }
    NDArray padded = new PaddedMatrix(vocab, config.hiddenSize(), width, config.hiddenSize()).pad(dense, dtype);
    padded.attach(x.getManager());
    return padded;
  }

  public static NDArray crossEntropy(NDArray logits, NDArray targets) {
    NDArray logp = logits.logSoftmax(-1); // (B, T, V)
    NDArray picked = logp.gather(targets.expandDims(-1), -1); // (B, T, 1)
    return picked.mean().neg();
  }

  private NDArray attention(
      Weights w, String p, NDArray x, NDArray[] cosSin, NDArray mask, long batch, int seq) {
    int hd = config.headDim();
    int nh = config.numHeads();
    int nkv = config.numKvHeads();
    NDArray q = heads(w.linear(p + "q_proj.weight", x), batch, seq, nh, hd); // (B, nh, T, hd)
    NDArray k = heads(w.linear(p + "k_proj.weight", x), batch, seq, nkv, hd); // (B, nkv, T, hd)
    NDArray v = heads(w.linear(p + "v_proj.weight", x), batch, seq, nkv, hd);
    NDArray[] rotated = RotaryEmbedding.apply(q, k, cosSin[0], cosSin[1]);
    q = rotated[0];
    k = rotated[1];
    if (nkv != nh) { // grouped-query attention: each kv head serves nh/nkv query heads
      k = k.repeat(1, nh / nkv);
      v = v.repeat(1, nh / nkv);
    }
    NDArray out; // (B, nh, T, hd)
    if (Kernels.attention()) { // one fused kernel; the (B, nh, T, T) scores never exist
      out = NativeKernels.causalAttention(q, k, v, 1 / Math.sqrt(hd));
    } else {
      // 1/sqrt(hd) applied to q (B, nh, T, hd) rather than to the scores (B, nh, T, T): the same
      // product, one T x T tensor fewer in the forward pass and in the backward. Scalar operands
      // inside the graph are torch-owned tensors (see HostArrays#scalar).
      q = q.div(HostArrays.scalar(x.getManager(), Math.sqrt(hd), q.getDataType()));
      NDArray scores = q.matMul(k.swapAxes(-1, -2)).add(mask); // (B, nh, T, T)
      out = scores.softmax(-1).matMul(v);
    }
    out = out.swapAxes(1, 2).reshape(batch, seq, (long) nh * hd);
    return w.linear(p + "o_proj.weight", out);
  }

  private static NDArray heads(NDArray t, long batch, int seq, int n, int hd) {
    return t.reshape(batch, seq, n, hd).swapAxes(1, 2);
  }

  /**
   * down(silu(gate x) * up x). Where the MLP width is not aligned ({@link GemmAlignment}), the three
   * GEMMs run at the padded width: gate and up get zero rows, down zero columns, and the padded units
   * carry silu(0) * 0 = 0, so the result is the unpadded one's.
   */
  NDArray swiGlu(Weights w, String p, NDArray x) {
    long d = config.hiddenSize();
    long ffn = config.intermediateSize();
    long width = alignment.pad(ffn, x.getDevice());
    PaddedMatrix in = new PaddedMatrix(ffn, d, width, d); // gate, up: (ffn, d) -> (width, d)
    PaddedMatrix out = new PaddedMatrix(d, ffn, d, width); // down: (d, ffn) -> (d, width)
    NDArray gate = linear(w, p + "gate_proj.weight", x, in); // (B, T, width)
    NDArray up = linear(w, p + "up_proj.weight", x, in);
    NDArray gated = Kernels.swiGlu() ? NativeKernels.swiGlu(gate, up) : silu(gate).mul(up);
    return linear(w, p + "down_proj.weight", gated, out); // (B, T, d)
  }

  /** The padded product only where there is padding: an aligned model runs exactly as before. */
  private static NDArray linear(Weights w, String name, NDArray x, PaddedMatrix shape) {
    return shape.padded() ? w.linear(name, x, shape) : w.linear(name, x);
  }

  static NDArray silu(NDArray x) {
    return x.mul(Activation.sigmoid(x));
  }

  /**
   * {@code {rmsNorm(x + residual, gain), x + residual}}: the residual add and the norm after it as one
   * CUDA kernel each way where the native kernels have it and the tensors are on a GPU, else the add
   * and {@link #rmsNorm}. The results belong to x's manager.
   */
  NDArray[] addRmsNorm(NDArray x, NDArray residual, NDArray gain) {
    if (Kernels.rmsNormResidual() && x.getDevice().isGpu()) {
      return NativeKernels.addRmsNorm(x, residual, gain, config.rmsNormEps());
    }
    NDArray sum = x.add(residual);
    return new NDArray[] {rmsNorm(sum, gain), sum};
  }

  /** RMSNorm (Zhang and Sennrich 2019): x / sqrt(mean(x^2) + eps) * g, statistics in fp32 as HF does. */
  NDArray rmsNorm(NDArray x, NDArray gain) {
    if (Kernels.rmsNorm()) {
      return NativeKernels.rmsNorm(x, gain, config.rmsNormEps());
    }
    DataType in = x.getDataType();
    NDArray xf = in == DataType.FLOAT16 ? Cast.to(x, DataType.FLOAT32) : x;
    NDArray ms = xf.square().mean(new int[] {-1}, true);
    NDArray inv = ms.add(HostArrays.scalar(x.getManager(), config.rmsNormEps(), ms.getDataType())).sqrt();
    NDArray normed = xf.div(inv);
    // Called on the activation, not on the gain: DJL puts a result in the manager of the array an op
    // is called on, and everything downstream of this output must land in the block's scope.
    return (in == DataType.FLOAT16 ? Cast.to(normed, in) : normed).mul(gain);
  }

  /** cos, sin (T, hd) and the causal mask (T, T): cached when a cache manager was given. */
  private NDArray[] tables(NDManager m, int seq, DataType dtype) {
    if (cache == null) {
      NDArray[] cs = rope.cosSin(m, seq, dtype);
      return new NDArray[] {cs[0], cs[1], causalMask(m, seq, dtype)};
    }
    if (!cache.getDevice().equals(m.getDevice())) {
      throw new IllegalArgumentException("tokens on " + m.getDevice() + ", the model's tables on " + cache.getDevice());
    }
    return tables.computeIfAbsent(seq + "/" + dtype, k -> {
      NDArray[] cs = rope.cosSin(cache, seq, dtype);
      return new NDArray[] {cs[0], cs[1], causalMask(cache, seq, dtype)};
    });
  }

  static NDArray causalMask(NDManager m, int seq, DataType dtype) {
    float[] mask = new float[seq * seq];
    for (int i = 0; i < seq; i++) {
      for (int j = i + 1; j < seq; j++) {
        mask[i * seq + j] = Float.NEGATIVE_INFINITY;
      }
    }
    return HostArrays.of(m, mask, new Shape(seq, seq), dtype);
  }

  /** Rotary position embedding in Hugging Face's rotate-half layout (so HF q/k weights apply as is). */
  static final class RotaryEmbedding {
    private final int headDim;
    private final double theta;

    RotaryEmbedding(int headDim, double theta) {
      this.headDim = headDim;
      this.theta = theta;
    }

    /** cos and sin tables of shape (T, hd): angle(t, i) = t / theta^(2(i mod hd/2)/hd). */
    NDArray[] cosSin(NDManager m, int seq, DataType dtype) {
      int half = headDim / 2;
      double[] cos = new double[seq * headDim];
      double[] sin = new double[seq * headDim];
      for (int t = 0; t < seq; t++) {
        for (int i = 0; i < half; i++) {
          double angle = t / Math.pow(theta, (2.0 * i) / headDim);
          double c = Math.cos(angle);
          double s = Math.sin(angle);
          cos[t * headDim + i] = c;
          cos[t * headDim + i + half] = c;
          sin[t * headDim + i] = s;
          sin[t * headDim + i + half] = s;
        }
      }
      Shape shape = new Shape(seq, headDim);
      return new NDArray[] {
        HostArrays.of(m, cos, shape, dtype), HostArrays.of(m, sin, shape, dtype)
      };
    }

    /**
     * {q', k'}: {@link #apply(NDArray, NDArray, NDArray)} on q (B, nh, T, hd) and k (B, nkv, T, hd). One
     * CUDA kernel for both, each way, where the native kernels have it and the tensors are on a GPU (the
     * halves, the negation and the concatenation never exist); else the ops below, per tensor.
     */
    static NDArray[] apply(NDArray q, NDArray k, NDArray cos, NDArray sin) {
      if (Kernels.rope() && q.getDevice().isGpu()) {
        return NativeKernels.rotary(q, k, cos, sin);
      }
      return new NDArray[] {apply(q, cos, sin), apply(k, cos, sin)};
    }

    /** x * cos + rotate_half(x) * sin, with rotate_half(x) = concat(-x2, x1); x is (..., T, hd). */
    static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
      // split, not slicing with get(): split's backward is a concatenation, while the backward of
      // DJL's indexed slice left rare garbage (NaN) in q/k gradients on CPU.
      NDList halves = x.split(2, x.getShape().dimension() - 1);
      NDArray rotated = NDArrays.concat(new NDList(halves.get(1).neg(), halves.get(0)), -1);
      return x.mul(cos).add(rotated.mul(sin));
    }
  }
}
