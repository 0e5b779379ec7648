package io.orthoslice.common.train;

import io.orthoslice.common.testing.RelativeError;
import io.orthoslice.common.config.AdamHyper;

import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.orthoslice.common.kernels.KernelChoice;
import io.orthoslice.common.kernels.Kernels;
import io.orthoslice.common.kernels.NativeKernels;
import io.orthoslice.common.optim.AdamW;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.tensor.HostArrays;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The native kernels against the DJL path they replace (JUnit tag {@code gpu}; run on the device with
 * the library built by common/src/main/cpp/build.sh and {@code ORTHOSLICE_KERNELS_LIB} pointing at it):
 * attention output and gradients, the model's gradients with each native op, the fused AdamW step for
 * step, and 200 training steps with both paths. Float32 comparisons need TF32 off (the JVM without
 * TORCH_ALLOW_TF32_CUBLAS_OVERRIDE), or the matmuls differ by more than the kernels do.
 */
@Tag("gpu")
class NativeKernelsParityTest {

  @BeforeAll
  static void needsAGpuAndTheLibrary() {
    assumeTrue(Engine.getInstance().getGpuCount() > 0, "no GPU visible to DJL");
    Kernels.configure(KernelChoice.NATIVE); // throws the one-line reason when the library is unusable
    Kernels.configure(KernelChoice.DJL);
  }

  @AfterEach
  void backToDjl() {
    System.clearProperty(Kernels.OPS_PROPERTY);
    Kernels.configure(KernelChoice.DJL);
  }

  static void use(String ops) {
    System.setProperty(Kernels.OPS_PROPERTY, ops);
    Kernels.configure(KernelChoice.NATIVE);
  }

  /** n values uniform in [-scale, scale). */
  static float[] uniform(long seed, long n, double scale) {
    PortableRandom rng = new PortableRandom(seed);
    float[] out = new float[(int) n];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) ((2 * rng.nextDouble() - 1) * scale);
    }
    return out;
  }


  /** Output and dq, dk, dv of causal attention under a fixed upstream gradient, as float32 host arrays. */
  static float[][] attention(boolean fused, DataType dtype) {
    int b = 2;
    int h = 4;
    int t = 96;
    int hd = 32;
    Shape shape = new Shape(b, h, t, hd);
    try (NDManager m = NDManager.newBaseManager(Device.gpu())) {
      NDArray[] qkvr = new NDArray[4];
      for (int i = 0; i < 4; i++) {
        qkvr[i] = HostArrays.of(m, uniform(10 + i, shape.size(), 2), shape, dtype);
      }
      for (int i = 0; i < 3; i++) {
        qkvr[i].setRequiresGradient(true);
      }
      NDArray out;
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        if (fused) {
          out = NativeKernels.causalAttention(qkvr[0], qkvr[1], qkvr[2], 1 / Math.sqrt(hd));
        } else {
          float[] mask = new float[t * t];
          for (int i = 0; i < t; i++) {
            for (int j = i + 1; j < t; j++) {
              mask[i * t + j] = Float.NEGATIVE_INFINITY;
            }
          }
          NDArray q = qkvr[0].div(HostArrays.scalar(m, Math.sqrt(hd), dtype));
          NDArray scores = q.matMul(qkvr[1].swapAxes(-1, -2)).add(HostArrays.of(m, mask, new Shape(t, t), dtype));
          out = scores.softmax(-1).matMul(qkvr[2]);
        }
        gc.backward(out.mul(qkvr[3]).sum());
      }
      float[][] r = new float[4][];
      r[0] = out.toType(DataType.FLOAT32, false).toFloatArray();
      for (int i = 0; i < 3; i++) {
        r[i + 1] = qkvr[i].getGradient().toType(DataType.FLOAT32, false).toFloatArray();
      }
      return r;
    }
  }

  @Test
  void attentionAndItsGradientsMatchTheDjlPath() {
    for (DataType dtype : new DataType[] {DataType.FLOAT32, DataType.FLOAT16}) {
      float[][] djl = attention(false, dtype);
      float[][] fused = attention(true, dtype);
      double bound = dtype == DataType.FLOAT32 ? 1e-5 : 1e-2;
      String[] what = {"output", "dq", "dk", "dv"};
      for (int i = 0; i < 4; i++) {
        double rel = RelativeError.of(fused[i], djl[i]);
        System.out.printf("attention %s %s: relative difference %.3g%n", dtype, what[i], rel);
        assertTrue(rel < bound, dtype + " " + what[i] + " differs by " + rel + " (bound " + bound + ")");
      }
    }
  }

  @Test
  void theModelsGradientsMatchWithEachNativeOp() {
    long[] batch = GpuTrainingTest.tokens(5, 4 * 65, GpuTrainingTest.TINY.vocabSize());
    Map<String, float[]> djl = GpuTrainingTest.gradients(Device.gpu(), batch, 4);
    for (String ops : new String[] {"attention", "rmsnorm", "swiglu", "rope", "rmsnorm-residual",
        "attention,rmsnorm,swiglu,rope,rmsnorm-residual"}) {
      use(ops);
      Map<String, float[]> fused = GpuTrainingTest.gradients(Device.gpu(), batch, 4);
      double worst = 0;
      for (String name : djl.keySet()) {
        double rel = RelativeError.of(fused.get(name), djl.get(name));
        worst = Math.max(worst, rel);
        assertTrue(rel < 1e-5, ops + ": gradient of " + name + " differs by " + rel);
      }
      System.out.printf("model gradients with native %s: worst relative difference %.3g%n", ops, worst);
    }
  }

  @Test
  void theFusedAdamWMatchesOurAdamWStepForStep() {
    AdamW adam = new AdamW(new AdamHyper(0.9, 0.95, 1e-8));
    Shape shape = new Shape(64, 48);
    try (NDManager m = NDManager.newBaseManager(Device.gpu())) {
      NDArray[] w = new NDArray[2];
      AdamW.State[] s = new AdamW.State[2];
      for (int p = 0; p < 2; p++) {
        w[p] = HostArrays.of(m, uniform(1, shape.size(), 0.5), shape, DataType.FLOAT32);
        s[p] = AdamW.State.zerosLike(w[p], m);
      }
      for (int step = 1; step <= 10; step++) {
        NDArray g = HostArrays.of(m, uniform(100 + step, shape.size(), 2), shape, DataType.FLOAT32);
        for (int p = 0; p < 2; p++) {
          Kernels.configure(p == 0 ? KernelChoice.DJL : KernelChoice.NATIVE);
          try (NDManager scope = m.newSubManager()) {
            adam.step(w[p], g.duplicate(), s[p], 1e-2, 0.1, 0.5, scope);
          }
        }
        Kernels.configure(KernelChoice.DJL);
        for (NDList pair : new NDList[] {new NDList(w[0], w[1]), new NDList(s[0].m, s[1].m), new NDList(s[0].v, s[1].v)}) {
          double rel = RelativeError.of(pair.get(1).toFloatArray(), pair.get(0).toFloatArray());
          assertTrue(rel < 1e-6, "step " + step + ": fused and DJL AdamW differ by " + rel);
        }
        assertTrue(s[0].t == step && s[1].t == step);
      }
    }
  }

  /**
   * {@code --deterministic}: two runs of 20 fp16 steps at seq 256 (the tiny preset's longest) with every
   * native op (flash attention, whose backward otherwise adds dQ over key blocks with atomics) give the same losses bit for bit.
   */
  @Test
  void deterministicAlgorithmsRepeatTheRunBitForBit() {
    TrainConfig cfg = TrainConfig.defaults(20).withBatch(256, 4, 1).withOptim(3e-3, 3e-4, 0.1, 1.0)
        .withPrecision(Precision.FP16);
    String all = "attention,rmsnorm,adamw,swiglu,rope,rmsnorm-residual";
    use(all);
    Kernels.deterministic(true, true);
    try {
      double[] a = losses(all, cfg, 20);
      double[] b = losses(all, cfg, 20);
      org.junit.jupiter.api.Assertions.assertArrayEquals(a, b, 0.0, "the same seed and data, twice");
      assertTrue(a[19] < a[0], "it trains: " + a[0] + " -> " + a[19]);
    } finally {
      Kernels.deterministic(false, true);
    }
  }

  static double[] losses(boolean fused, Precision precision, int steps) {
    return losses(fused ? "attention,rmsnorm,adamw,swiglu,rope,rmsnorm-residual" : null, TrainConfig.defaults(steps).withBatch(64, 4, 1)
        .withOptim(3e-3, 3e-4, 0.1, 1.0).withPrecision(precision), steps);
  }

  /** The losses of {@code steps} steps with the native {@code ops} (null: the DJL path). */
  static double[] losses(String ops, TrainConfig cfg, int steps) {
    if (ops != null) {
      use(ops);
    } else {
      Kernels.configure(KernelChoice.DJL);
    }
    double[] out = new double[steps];
    NDManager root = NDManager.newBaseManager(Device.gpu());
    try (Trainer t = new Trainer(GpuTrainingTest.TINY, cfg, root, TrainingMethods.build(GpuTrainingTest.TINY, cfg,
        ModelInit.initialize(GpuTrainingTest.TINY, 3, root, cfg.precision().master()), root))) {
      for (int i = 0; i < steps; i++) {
        out[i] = t.step(GpuTrainingTest.tokens(1000 + i % 8, cfg.microBatch() * (cfg.seqLen() + 1), 16)).loss();
      }
    }
    return out;
  }

  /**
   * The adapter's effective weight as one native addmm ({@code W + alpha B P^T}, casts inside) trains
   * as DJL's cast, matmul, scale and add: 100 steps at rank 8, orthogonal projection (the tiny
   * model's square and non-square matrices take both sides), re-drawn every 25 steps, fp32 and fp16.
   */
  @Test
  void theAdaptersNativeEffectiveWeightTrainsAsTheDjlOps() {
    MethodSpec spec = new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", 8, 25, MethodSpec.StatePolicy.CARRY,
        MethodSpec.Optimizer.ADAMW, "fp32", 2.0);
    for (Precision p : new Precision[] {Precision.FP32, Precision.FP16}) {
      TrainConfig cfg = TrainConfig.defaults(100).withBatch(64, 4, 1).withOptim(1e-2, 1e-3, 0.0, 1.0)
          .withPrecision(p).withMethod(spec);
      double[] djl = losses(null, cfg, 100);
      double[] fused = losses("adapter", cfg, 100);
      double worst = 0;
      for (int i = 0; i < djl.length; i++) {
        worst = Math.max(worst, Math.abs(fused[i] - djl[i]) / djl[i]);
      }
      System.out.printf("adapter %s: loss %.4f -> %.4f (djl) vs %.4f -> %.4f (native), worst relative step"
          + " difference %.3g%n", p, djl[0], djl[99], fused[0], fused[99], worst);
      assertTrue(djl[99] < 0.9 * djl[0], p + " adapter did not learn: " + djl[0] + " -> " + djl[99]);
      assertTrue(worst < (p == Precision.FP32 ? 1e-3 : 2e-2), p + ": adapter losses differ by up to " + worst);
    }
  }

  @Test
  void twoHundredTrainingStepsGiveTheSameLossesWithBothPaths() {
    for (Precision p : new Precision[] {Precision.FP32, Precision.FP16}) {
      double[] djl = losses(false, p, 200);
      double[] fused = losses(true, p, 200);
      double worst = 0;
      for (int i = 0; i < djl.length; i++) {
        worst = Math.max(worst, Math.abs(fused[i] - djl[i]) / djl[i]);
      }
      System.out.printf("%s: loss %.4f -> %.4f (djl) vs %.4f -> %.4f (native), worst relative step difference %.3g%n",
          p, djl[0], djl[199], fused[0], fused[199], worst);
      assertTrue(djl[199] < 0.7 * djl[0], p + " did not learn: " + djl[0] + " -> " + djl[199]);
      assertTrue(worst < (p == Precision.FP32 ? 1e-3 : 2e-2), p + ": losses differ by up to " + worst);
    }
  }

  /** The device's bit sum is the host's, across the kernel's 2^24-value chunks and for NaN, infinities and -0. */
  @Test
  void theBitSumOnTheGpuIsTheHostsChecksumTerm() {
    use("attention");
    float[] v = uniform(11, (1 << 24) + 3, 40.0);
    v[0] = Float.NaN;
    v[1] = Float.NEGATIVE_INFINITY;
    v[2] = -0.0f;
    v[(1 << 24) + 1] = Float.MAX_VALUE;
    try (NDManager m = NDManager.newBaseManager(Device.gpu())) {
      NDArray a = HostArrays.of(m, v, new Shape(v.length));
      long host = io.orthoslice.common.round.WeightsChecksum.bitSum(v);
      assertTrue(NativeKernels.bitSum(a) == host, "device " + NativeKernels.bitSum(a) + ", host " + host);
    }
  }

  /**
   * The batched terms (one copy to the host for all parameters) are the single ones, and the batched
   * sums see a non-finite parameter where DJL's sum does.
   */
  @Test
  void theBatchedBitSumsAndSumsAreThePerTensorOnes() {
    use("attention");
    try (NDManager m = NDManager.newBaseManager(Device.gpu())) {
      java.util.List<NDArray> ws = new java.util.ArrayList<>();
      long[] host = new long[3];
      for (int i = 0; i < 3; i++) {
        float[] v = uniform(20 + i, 1000 + 777 * i, 3.0);
        if (i == 1) {
          v[5] = Float.POSITIVE_INFINITY;
        }
        host[i] = io.orthoslice.common.round.WeightsChecksum.bitSum(v);
        ws.add(HostArrays.of(m, v, new Shape(v.length)));
      }
      long[] terms = NativeKernels.bitSums(ws);
      float[] sums = NativeKernels.sums(ws);
      for (int i = 0; i < 3; i++) {
        assertTrue(terms[i] == host[i], "tensor " + i + ": batched " + terms[i] + ", host " + host[i]);
        assertTrue(Float.isFinite(sums[i]) == (i != 1), "tensor " + i + " sum " + sums[i]);
        assertTrue(Math.abs(sums[i] - ws.get(i).sum().getFloat()) <= 1e-3 * Math.abs(sums[i]) || i == 1);
      }
    }
  }
}
