package io.orthoslice.common.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The output head and the cross-entropy in chunks of tokens, so the (tokens x vocabulary) logits never
 * exist in full (issue 34, "a head that never materialises the logits"). With GPT-2's 50,257 tokens a
 * batch of 8 x 1024 has 1.6 GB of fp32 logits, and the unfused loss holds several such tensors at the
 * step's peak (the fp16 logits, their fp32 cast, the log-softmax saved for backward, its gradient).
 *
 * <p>How: off the tape, each chunk's logits, log-softmax and gradient {@code g = (softmax - onehot) *
 * scale / N} are made and dropped in turn; {@code dx = g W} and {@code dW += g^T x} are kept. The
 * autograd graph then gets those gradients through one scalar, {@code sum(x * dx) + sum(W * dW)},
 * whose gradient with respect to x is dx and to W is dW: backward runs on from there through the final
 * norm, the blocks and (when the head is the embedding) the table. The loss value is returned apart.
 * The same arithmetic as the unfused loss in a different summation order, so the gradients agree to
 * rounding (ChunkedLossTest), not bit for bit. Per chunk it holds about three fp32 (chunk x V)
 * tensors; {@code dW} is accumulated in fp32 when the compute type is fp16 (the unfused loss sums the
 * whole batch's {@code g^T x} into one fp16 GEMM output).
 *
 * @param budgetBytes the most fp32 logits one chunk may hold; a batch whose full logits fit in it takes
 *     the unfused loss (the byte tokenizer's 257 columns always do). 0 turns chunking off.
 */
public record ChunkedLoss(long budgetBytes) {

  /** Measurement: the chunk budget in MiB for every model of the process ({@code 0}: never chunk). */
  public static final String BUDGET_PROPERTY = "orthoslice.logits.chunk-mib";

  /** 256 MiB: 1,335 tokens a chunk at GPT-2's vocabulary, 6 launches of a dozen kernels at 8 x 1024. */
  public static final long DEFAULT_BUDGET = 256L << 20;

  public ChunkedLoss {
    if (budgetBytes < 0) {
      throw new IllegalArgumentException("the logits chunk budget must be >= 0 bytes, got " + budgetBytes);
    }
  }

  /** {@link #DEFAULT_BUDGET}, unless {@code -D}{@value #BUDGET_PROPERTY} names one in MiB. */
  public static ChunkedLoss defaults() {
    String v = System.getProperty(BUDGET_PROPERTY);
    if (v == null || v.isBlank()) {
      return new ChunkedLoss(DEFAULT_BUDGET);
    }
    try {
      return new ChunkedLoss(Long.parseLong(v.trim()) << 20);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + BUDGET_PROPERTY + "=" + v + " is not a whole number of MiB");
    }
  }

  /** Whether {@code tokens} rows of {@code vocab} fp32 logits exceed the budget, so the loss is chunked. */
  public boolean chunks(long tokens, long vocab) {
    return budgetBytes > 0 && tokens * vocab * Float.BYTES > budgetBytes;
  }

  /** Tokens per chunk: as many rows of fp32 logits as the budget holds, at least one. */
  public long tokensPerChunk(long vocab) {
    return Math.max(1, budgetBytes / (vocab * Float.BYTES));
  }

  /** The mean loss (a float64 scalar off the tape) and the scalar to run backward from. */
  public record Pass(NDArray loss, NDArray surrogate) {}

  /**
   * @param x (N, d) the head's input, on the tape
   * @param weight (Vp, d) the head in x's type, on the tape; rows past {@code vocab} are zero padding
   *     (fp16 GEMM alignment) whose logits are left out
   * @param targets (N) int64
   * @param gradScale what the mean loss's gradient is multiplied by (the loss scale over the
   *     micro-batches)
   * @return the pass, in x's manager; backward from {@code surrogate} with gradient 1 gives x and
   *     weight the gradients of {@code gradScale * mean loss}
   */
  public Pass lossAndGradients(NDArray x, NDArray weight, NDArray targets, long vocab, double gradScale) {
    long n = x.getShape().get(0);
    DataType dt = x.getDataType();
    DataType acc = dt == DataType.FLOAT16 ? DataType.FLOAT32 : dt;
    NDManager m = x.getManager();
    NDArray lossSum = m.zeros(new Shape(), DataType.FLOAT64);
    NDArray dx = m.zeros(x.getShape(), dt);
    NDArray dw = m.zeros(weight.getShape(), acc);
    double perToken = gradScale / n;
    long step = tokensPerChunk(vocab);
    JniUtils.setGradMode(false);
    try {
      for (long a = 0; a < n; a += step) {
        long b = Math.min(n, a + step);
        try (NDManager chunk = m.newSubManager()) {
          NDArray xc = x.get(new NDIndex("{}:{}", a, b));
          xc.attach(chunk);
          NDArray[] lossAndG = lossAndSoftmaxGradient(xc, weight, targets.get(new NDIndex("{}:{}", a, b)), vocab, acc, chunk);
          lossSum.addi(lossAndG[0]);
          NDArray g = lossAndG[1].muli(perToken);
          NDArray gp = padColumns(g, weight.getShape().get(0), dt, chunk); // (b - a, Vp) in x's type
          NDArray dxc = gp.matMul(weight);
          dx.set(new NDIndex("{}:{}", a, b), dxc);
          NDArray dwc = gp.transpose().matMul(xc);
          dw.addi(dwc.getDataType() == acc ? dwc : dwc.toType(acc, false));
        }
      }
    } finally {
      JniUtils.setGradMode(true);
    }
    NDArray dwTyped = dw.getDataType() == dt ? dw : dw.toType(dt, false);
    if (dwTyped != dw) {
      dw.close(); // the fp32 sum; autograd keeps the typed copy it multiplies by
    }
    // The products are not saved for backward (a sum's gradient needs only the shape): dropped at once,
    // so they are not held through the backward pass at the step's memory peak.
    NDArray surrogate;
    try (NDArray xdx = x.mul(dx); NDArray wdw = weight.mul(dwTyped); NDArray sx = xdx.sum(); NDArray sw = wdw.sum()) {
      surrogate = sx.add(sw);
    }
    NDArray mean = lossSum.divi(n);
    return new Pass(mean, surrogate);
  }

  /** The mean loss only (evaluation): a float64 scalar in x's manager, nothing on the tape. */
  public NDArray loss(NDArray x, NDArray weight, NDArray targets, long vocab) {
    long n = x.getShape().get(0);
    DataType acc = x.getDataType() == DataType.FLOAT16 ? DataType.FLOAT32 : x.getDataType();
    NDManager m = x.getManager();
    NDArray lossSum = m.zeros(new Shape(), DataType.FLOAT64);
    long step = tokensPerChunk(vocab);
    for (long a = 0; a < n; a += step) {
      long b = Math.min(n, a + step);
      try (NDManager chunk = m.newSubManager()) {
        NDArray xc = x.get(new NDIndex("{}:{}", a, b));
        xc.attach(chunk);
        NDArray logp = logSoftmax(xc, weight, vocab, acc);
        NDArray yc = targets.get(new NDIndex("{}:{}", a, b));
        yc.attach(chunk);
        lossSum.subi(logp.gather(yc.expandDims(-1), -1).sum().toType(DataType.FLOAT64, false));
      }
    }
    return lossSum.divi(n);
  }

  /**
   * One chunk: {@code {-sum log p(target), softmax - onehot}}, the first float64, the second (rows,
   * vocab) in {@code acc}; both in {@code chunk}.
   */
  private static NDArray[] lossAndSoftmaxGradient(NDArray xc, NDArray weight, NDArray yc, long vocab, DataType acc,
      NDManager chunk) {
    yc.attach(chunk);
    NDArray logp = logSoftmax(xc, weight, vocab, acc); // (rows, V)
    NDArray idx = yc.expandDims(-1);
    NDArray picked = logp.gather(idx, -1); // (rows, 1)
    NDArray loss = picked.sum().neg().toType(DataType.FLOAT64, false);
    NDArray p = logp.exp();
    logp.close();
    NDArray g = p.scatter(idx, picked.exp().subi(1), -1); // softmax - onehot
    p.close();
    return new NDArray[] {loss, g};
  }

  /** log softmax of xc W^T over the true vocabulary, in {@code acc}, in xc's manager. */
  private static NDArray logSoftmax(NDArray xc, NDArray weight, long vocab, DataType acc) {
    NDArray logits = xc.matMul(weight.transpose()); // (rows, Vp) in x's type
    NDArray cut = logits.getShape().get(1) == vocab ? logits : logits.get(new NDIndex(":, :{}", vocab));
    NDArray wide = cut.getDataType() == acc ? cut : cut.toType(acc, false);
    return wide.logSoftmax(-1);
  }

  /** g (rows, V) as (rows, width) in {@code dt}, zeros in the padded columns (one copy, the cast on it). */
  private static NDArray padColumns(NDArray g, long width, DataType dt, NDManager chunk) {
    long v = g.getShape().get(1);
    if (v == width) {
      return g.getDataType() == dt ? g : g.toType(dt, false);
    }
    NDArray out = chunk.zeros(new Shape(g.getShape().get(0), width), dt);
    out.set(new NDIndex(":, :{}", v), g);
    return out;
  }
}
