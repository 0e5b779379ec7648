package io.orthoslice.common.model;

import io.orthoslice.common.testing.RelativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.orthoslice.common.kernels.KernelChoice;
import io.orthoslice.common.kernels.Kernels;
import io.orthoslice.common.kernels.NativeKernels;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.tensor.HostArrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The library's own CUDA kernels (fused RoPE over q and k; RMSNorm fused with the residual add) against
 * the model's DJL ops they replace, forward and gradients, in fp32 and fp16, on shapes that are not
 * multiples of any block (JUnit tag {@code gpu}; on the device with the library built with nvcc by
 * common/src/main/cpp/build.sh and {@code ORTHOSLICE_KERNELS_LIB} pointing at it).
 */
@Tag("gpu")
class FusedKernelsParityTest {

  /** Batch 2, 4 query heads and 2 kv heads (the GQA shape), a sequence of 77 positions. */
  private static final int B = 2;
  private static final int NH = 4;
  private static final int NKV = 2;
  private static final int T = 77;

  @BeforeAll
  static void needsAGpuAndTheCudaKernels() {
    assumeTrue(Engine.getInstance().getGpuCount() > 0, "no GPU visible to DJL");
    Kernels.configure(KernelChoice.NATIVE); // throws the one-line reason when the library is unusable
    assertTrue(NativeKernels.hasCudaKernels(),
        "the kernels library was built without its CUDA kernels (build.sh's last line says why)");
    Kernels.configure(KernelChoice.DJL);
  }

  @AfterEach
  void backToDjl() {
    System.clearProperty(Kernels.OPS_PROPERTY);
    Kernels.configure(KernelChoice.DJL);
  }

  /** The native {@code op} only (null: DJL's ops). */
  private static void use(String op) {
    if (op == null) {
      Kernels.configure(KernelChoice.DJL);
      return;
    }
    System.setProperty(Kernels.OPS_PROPERTY, op);
    Kernels.configure(KernelChoice.NATIVE);
  }

  /** n values uniform in [center - scale, center + scale). */
  private static float[] uniform(long seed, long n, double center, double scale) {
    PortableRandom rng = new PortableRandom(seed);
    float[] out = new float[Math.toIntExact(n)];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) (center + (2 * rng.nextDouble() - 1) * scale);
    }
    return out;
  }

  private static NDArray random(NDManager m, long seed, Shape shape, DataType dtype, double center, double scale) {
    return HostArrays.of(m, uniform(seed, shape.size(), center, scale), shape, dtype);
  }

  private static float[] host(NDArray a) {
    return a.toType(DataType.FLOAT32, true).toFloatArray();
  }


  /**
   * q', k' and the gradients of q and k under fixed upstream gradients, as host arrays, with the
   * native rope ({@code fused}) or the model's ops. {@code projected}: q and k are views of the
   * projections (B, T, heads * hd), as in the model; else contiguous (B, heads, T, hd) leaves.
   */
  private static float[][] rope(boolean fused, DataType dtype, int hd, boolean projected) {
    use(fused ? "rope" : null);
    try (NDManager m = NDManager.newBaseManager(Device.gpu())) {
      Shape qShape = projected ? new Shape(B, T, (long) NH * hd) : new Shape(B, NH, T, hd);
      Shape kShape = projected ? new Shape(B, T, (long) NKV * hd) : new Shape(B, NKV, T, hd);
      NDArray qLeaf = random(m, 1, qShape, dtype, 0, 2);
      NDArray kLeaf = random(m, 2, kShape, dtype, 0, 2);
      NDArray gq = random(m, 3, new Shape(B, NH, T, hd), dtype, 0, 1);
      NDArray gk = random(m, 4, new Shape(B, NKV, T, hd), dtype, 0, 1);
      NDArray[] cosSin = new Llama.RotaryEmbedding(hd, 10000.0).cosSin(m, T, dtype);
      qLeaf.setRequiresGradient(true);
      kLeaf.setRequiresGradient(true);
      NDArray[] out;
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray q = projected ? qLeaf.reshape(B, T, NH, hd).swapAxes(1, 2) : qLeaf;
        NDArray k = projected ? kLeaf.reshape(B, T, NKV, hd).swapAxes(1, 2) : kLeaf;
        out = Llama.RotaryEmbedding.apply(q, k, cosSin[0], cosSin[1]);
        gc.backward(out[0].mul(gq).sum().add(out[1].mul(gk).sum()));
      }
      return new float[][] {host(out[0]), host(out[1]), host(qLeaf.getGradient()), host(kLeaf.getGradient())};
    }
  }

  @Test
  void theFusedRopeAndItsGradientsMatchTheModelsOps() {
    String[] what = {"q'", "k'", "dq", "dk"};
    for (DataType dtype : new DataType[] {DataType.FLOAT32, DataType.FLOAT16}) {
      double bound = dtype == DataType.FLOAT32 ? 1e-6 : 3e-3;
      // 64 and 128 take the 16-byte packs; 6 (half of it odd) the one-value-at-a-time path.
      for (int hd : new int[] {64, 128, 6}) {
        for (boolean projected : new boolean[] {true, false}) {
          float[][] djl = rope(false, dtype, hd, projected);
          float[][] fused = rope(true, dtype, hd, projected);
          for (int i = 0; i < what.length; i++) {
            double rel = RelativeError.of(fused[i], djl[i]);
            String where = "rope " + dtype + " hd " + hd + (projected ? " (projection views) " : " (contiguous) ")
                + what[i];
            System.out.printf("%s: relative difference %.3g%n", where, rel);
            assertTrue(rel < bound, where + " differs by " + rel + " (bound " + bound + ")");
          }
        }
      }
    }
  }

  /** The tables and their rotation are exact at position 0 (cos 1, sin 0): q' = q there, bit for bit. */
  @Test
  void theFusedRopeLeavesPositionZeroAsItIs() {
    use("rope");
    try (NDManager m = NDManager.newBaseManager(Device.gpu())) {
      NDArray q = random(m, 5, new Shape(1, NH, T, 64), DataType.FLOAT16, 0, 3);
      NDArray k = random(m, 6, new Shape(1, NKV, T, 64), DataType.FLOAT16, 0, 3);
      NDArray[] cosSin = new Llama.RotaryEmbedding(64, 10000.0).cosSin(m, T, DataType.FLOAT16);
      NDArray[] out = Llama.RotaryEmbedding.apply(q, k, cosSin[0], cosSin[1]);
      for (int i = 0; i < 2; i++) {
        NDArray in = i == 0 ? q : k;
        assertArrayEquals(host(in.get(":, :, 0, :")), host(out[i].get(":, :, 0, :")), "position 0 of " + i);
      }
    }
  }

  /**
   * out, sum, and the gradients of x, residual and gain under fixed upstream gradients of both
   * outputs, as host arrays, with the native rmsnorm-residual ({@code fused}) or the add and DJL's
   * RMSNorm.
   */
  private static float[][] addRmsNorm(boolean fused, DataType dtype, int n) {
    use(fused ? "rmsnorm-residual" : null);
    Llama llama = new Llama(LlamaConfig.preset("tiny"));
    try (NDManager m = NDManager.newBaseManager(Device.gpu())) {
      Shape shape = new Shape(3, 37, n); // 111 rows
      NDArray x = random(m, 11, shape, dtype, 0, 2);
      NDArray residual = random(m, 12, shape, dtype, 0, 2);
      NDArray gain = random(m, 13, new Shape(n), dtype, 1, 0.5);
      NDArray gOut = random(m, 14, shape, dtype, 0, 1);
      NDArray gSum = random(m, 15, shape, dtype, 0, 1);
      for (NDArray a : new NDArray[] {x, residual, gain}) {
        a.setRequiresGradient(true);
      }
      NDArray[] out;
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        out = llama.addRmsNorm(x, residual, gain);
        gc.backward(out[0].mul(gOut).sum().add(out[1].mul(gSum).sum()));
      }
      return new float[][] {host(out[0]), host(out[1]), host(x.getGradient()), host(residual.getGradient()),
          host(gain.getGradient())};
    }
  }

  @Test
  void theFusedAddRmsNormAndItsGradientsMatchTheAddAndRmsNorm() {
    String[] what = {"out", "sum", "dx", "dresidual", "dgain"};
    for (DataType dtype : new DataType[] {DataType.FLOAT32, DataType.FLOAT16}) {
      double bound = dtype == DataType.FLOAT32 ? 1e-5 : 5e-3;
      // 100 is no multiple of fp16's 8-value packs (the one-value path there); 768 and 2048 are the presets'.
      for (int n : new int[] {100, 768, 2048}) {
        float[][] djl = addRmsNorm(false, dtype, n);
        float[][] fused = addRmsNorm(true, dtype, n);
        // The sum is x + residual rounded once to the dtype, as the separate add: equal bit for bit.
        assertArrayEquals(djl[1], fused[1], "addRmsNorm " + dtype + " n " + n + " sum");
        for (int i = 0; i < what.length; i++) {
          double rel = RelativeError.of(fused[i], djl[i]);
          String where = "addRmsNorm " + dtype + " n " + n + " " + what[i];
          System.out.printf("%s: relative difference %.3g%n", where, rel);
          assertTrue(rel < bound, where + " differs by " + rel + " (bound " + bound + ")");
        }
      }
    }
  }
}
