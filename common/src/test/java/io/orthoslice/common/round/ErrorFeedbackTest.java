package io.orthoslice.common.round;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.OrthogonalSlices;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.wire.WireTensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Error feedback over many rounds: what arrived plus the residual is exactly what was meant, and the
 * residual stays bounded (one round's rounding), for dense changes, for factors on slices re-drawn
 * every round, and for the coordinator's delta broadcast, which workers rebuild bit for bit.
 */
class ErrorFeedbackTest {

  private static Map<String, WireTensor> byName(List<WireTensor> ts) {
    Map<String, WireTensor> m = new LinkedHashMap<>();
    ts.forEach(t -> m.put(t.name(), t));
    return m;
  }

  private static double maxAbs(float[] v) {
    double m = 0;
    for (float x : v) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  @Test
  void denseChangesArriveInFullOverRoundsAndTheResidualStaysBounded() {
    Random rng = new Random(3);
    int rows = 8;
    int cols = 50;
    long[] shape = {rows, cols};
    for (WirePrecision p : List.of(WirePrecision.F16, WirePrecision.INT8)) {
      ErrorFeedback ef = new ErrorFeedback();
      double[] meant = new double[rows * cols];
      double[] arrived = new double[rows * cols];
      double[] plain = new double[rows * cols]; // the same changes without feedback
      double worst = 0;
      for (int round = 0; round < 300; round++) {
        float[] u = new float[rows * cols];
        for (int i = 0; i < u.length; i++) {
          // a small drift the quantiser rounds away on its own, plus noise
          u[i] = (float) (1e-4 * (1 + i % 3) + 1e-2 * rng.nextGaussian());
          meant[i] += u[i];
        }
        float[] got = TensorEncoding.decode(byName(ef.dense("w", u, shape, p))).get("w");
        float[] lost = TensorEncoding.roundTrip("w", u, shape, p);
        for (int i = 0; i < u.length; i++) {
          arrived[i] += got[i];
          plain[i] += lost[i];
        }
        float[] e = ef.residual("w");
        worst = Math.max(worst, maxAbs(e));
        for (int i = 0; i < u.length; i++) {
          assertEquals(meant[i], arrived[i] + e[i], 1e-4, p + " round " + round + " element " + i);
        }
      }
      // One int8 step of a row of ~4 sigma (0.04 / 127 / 2) bounds the residual; it never accumulates.
      assertTrue(worst < 5e-4, p + ": residual reached " + worst);
      double drift = 0;
      double fed = 0;
      for (int i = 0; i < meant.length; i++) {
        drift = Math.max(drift, Math.abs(meant[i] - plain[i]));
        fed = Math.max(fed, Math.abs(meant[i] - arrived[i]));
      }
      assertTrue(fed <= worst + 1e-5, p + ": " + fed);
      if (p == WirePrecision.INT8) {
        assertTrue(drift > 10 * fed, "without feedback int8 drifts by " + drift + ", with it " + fed);
      }
    }
  }

  @Test
  void aSparseChangeSendsTheRestLaterAndTheResidualStopsGrowing() {
    Random rng = new Random(7);
    long[] shape = {8, 50};
    ErrorFeedback ef = new ErrorFeedback();
    double[] meant = new double[400];
    double[] arrived = new double[400];
    double[] worst = new double[3];
    for (int round = 0; round < 300; round++) {
      float[] u = new float[400];
      for (int i = 0; i < u.length; i++) {
        u[i] = (float) (1e-3 * (1 + i % 3) + 1e-2 * rng.nextGaussian());
        meant[i] += u[i];
      }
      Map<String, WireTensor> sent = byName(ef.dense("w", u, shape, WirePrecision.INT8, 0.05));
      assertEquals(20, sent.get("w").elementCount());
      float[] got = TensorEncoding.decode(sent, n -> shape).get("w");
      float[] e = ef.residual("w");
      for (int i = 0; i < u.length; i++) {
        arrived[i] += got[i];
        assertEquals(meant[i], arrived[i] + e[i], 1e-4, "round " + round + " element " + i);
      }
      worst[round / 100] = Math.max(worst[round / 100], maxAbs(e));
    }
    // With 5% of the entries a round, every entry waits about 20 rounds: the residual settles at a few
    // rounds' worth of change and stays there.
    assertTrue(worst[2] <= 1.5 * worst[1], "residual grew from " + worst[1] + " to " + worst[2]);
    assertTrue(worst[2] < 0.5, "residual reached " + worst[2]);
  }

  @Test
  void aFactorsResidualLivesInTheFullSpaceAcrossReDrawnSlices() {
    int rows = 12;
    int cols = 8; // RIGHT: B is 12 x r, P is 8 x r
    int rank = 2;
    Random rng = new Random(5);
    ErrorFeedback ef = new ErrorFeedback();
    double[] meant = new double[rows * cols];
    double[] arrived = new double[rows * cols];
    double worst = 0;
    for (int round = 0; round < 200; round++) {
      double[] q = OrthogonalSlices.basis(100 + round, cols, 4, rank);
      double[] p = OrthogonalSlices.slice(q, cols, 4, rank, round % 4);
      float[] b = new float[rows * rank];
      for (int i = 0; i < b.length; i++) {
        b[i] = (float) (0.01 * rng.nextGaussian());
      }
      float[] got = TensorEncoding.decode(byName(ef.factor("w#B", "w", b, rows, cols, rank, p,
          WirePrecision.INT8))).get("w#B");
      for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
          for (int k = 0; k < rank; k++) {
            meant[i * cols + j] += b[i * rank + k] * p[j * rank + k];
            arrived[i * cols + j] += got[i * rank + k] * p[j * rank + k];
          }
        }
      }
      float[] e = ef.residual("w");
      worst = Math.max(worst, maxAbs(e));
      for (int i = 0; i < meant.length; i++) {
        assertEquals(meant[i], arrived[i] + e[i], 1e-5, "round " + round + " element " + i);
      }
    }
    // The residual outside this round's slice waits for a later slice; it does not grow without bound.
    assertTrue(worst < 2e-3, "residual reached " + worst);
  }

  @ParameterizedTest
  @EnumSource(WirePrecision.class)
  void workersRebuildTheCoordinatorsDeltaBroadcastBitForBit(WirePrecision wire) {
    LlamaConfig model = WeightsChecksumTest.SMALL;
    Random rng = new Random(9);
    Map<String, float[]> coordinator = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      float[] w = new float[(int) p.numel()];
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) (0.02 * rng.nextGaussian());
      }
      coordinator.put(p.name(), w);
    }
    Map<String, float[]> worker = new LinkedHashMap<>(coordinator);
    Map<String, float[]> exact = new LinkedHashMap<>(coordinator); // the merges without compression
    DeltaBroadcast broadcast = new DeltaBroadcast(model, wire);
    for (int round = 0; round < 20; round++) {
      Map<String, float[]> merged = new LinkedHashMap<>();
      for (ParameterSpec p : model.parameters()) {
        float[] from = coordinator.get(p.name());
        float[] to = from.clone();
        float[] ex = exact.get(p.name()).clone();
        for (int i = 0; i < to.length; i++) {
          float d = (float) (1e-3 * rng.nextGaussian());
          to[i] += d;
          ex[i] += d;
        }
        merged.put(p.name(), to);
        exact.put(p.name(), ex);
      }
      DeltaBroadcast.Encoded e = broadcast.encode(coordinator, merged);
      long checksum = WeightsChecksum.of(model, e.published());
      DeltaUpdate u = new DeltaUpdate(round, round, round + 1, e.tensors(), checksum);
      worker = DeltaBroadcast.rebuild(model, worker, u).orElseThrow(); // the coordinator's bits
      coordinator = e.published();
      DeltaUpdate altered = new DeltaUpdate(round, round, round + 1, e.tensors(), checksum ^ 1);
      assertTrue(DeltaBroadcast.rebuild(model, worker, altered).isEmpty());
    }
    assertEquals(WeightsChecksum.of(model, coordinator), WeightsChecksum.of(model, worker));
    // What every side holds stays within one residual of the uncompressed merges.
    Map<String, float[]> residuals = broadcast.state();
    for (ParameterSpec p : model.parameters()) {
      float[] held = coordinator.get(p.name());
      float[] ex = exact.get(p.name());
      float[] e = residuals.getOrDefault(p.name(), new float[held.length]); // the f32 wire keeps none
      assertEquals(wire.lossy(), residuals.containsKey(p.name()));
      for (int i = 0; i < held.length; i++) {
        assertEquals(ex[i], held[i] + e[i], 1e-6, p.name() + " element " + i);
      }
    }
    // A broadcast restored from its state (a resumed coordinator) encodes the next round as the original does.
    DeltaBroadcast resumed = new DeltaBroadcast(model, wire);
    resumed.restore(broadcast.state());
    Map<String, float[]> next = new LinkedHashMap<>();
    coordinator.forEach((k, v) -> {
      float[] to = v.clone();
      for (int i = 0; i < to.length; i++) {
        to[i] += (float) (1e-3 * rng.nextGaussian());
      }
      next.put(k, to);
    });
    assertEquals(WeightsChecksum.of(model, broadcast.encode(coordinator, next).published()),
        WeightsChecksum.of(model, resumed.encode(coordinator, next).published()));
  }

  /** The device form of the factor rule (a worker's) sends what the host form sends, bit for bit, on the CPU. */
  @Test
  void theDeviceFactorRuleIsTheHostOneOnTheCpu() {
    int rows = 12;
    int cols = 8;
    int rank = 2;
    Random rng = new Random(3);
    ErrorFeedback host = new ErrorFeedback();
    try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu());
        FactorFeedback device = new FactorFeedback(m)) {
      for (int round = 0; round < 4; round++) {
        io.orthoslice.common.projection.Side side = io.orthoslice.common.projection.Side.forShape(rows, cols);
        int d = side.dimension(rows, cols);
        double[] p = OrthogonalSlices.slice(OrthogonalSlices.basis(200 + round, d, 2, rank), d, 2, rank, round % 2);
        long[] bShape = side.reducedShape(rows, cols, rank);
        float[] b = new float[(int) (bShape[0] * bShape[1])];
        for (int i = 0; i < b.length; i++) {
          b[i] = (float) rng.nextGaussian();
        }
        List<WireTensor> a = host.factor("w#B", "w", b, rows, cols, rank, p, WirePrecision.INT8);
        List<WireTensor> c = device.factor("w#B", "w",
            io.orthoslice.common.tensor.HostArrays.of(m, b, new ai.djl.ndarray.types.Shape(bShape)), rows, cols, rank,
            p, WirePrecision.INT8, 1.0);
        assertEquals(a.size(), c.size());
        for (int t = 0; t < a.size(); t++) {
          assertArrayEquals(a.get(t).data(), c.get(t).data(), "round " + round + " tensor " + a.get(t).name());
        }
        assertArrayEquals(host.residual("w"), device.residual("w"), "round " + round);
      }
    }
  }
}
