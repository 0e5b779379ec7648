package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.OrthogonalSlices;
import io.orthoslice.common.projection.ProjectionKind;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.SeedSequence;
import io.orthoslice.common.tensor.HostArrays;
import io.orthoslice.common.projection.Side;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32C;

/**
 * The projectors of one round: for every projected matrix and every slot k of K participants, the
 * d x r projector P_k (float64, row-major). A pure function of (run seed, draw, mode, K, rank), so
 * the coordinator and each worker build the same bits independently. The draw is the round's
 * {@link RoundRules#draw}: the round itself when slices are re-drawn every round.
 *
 * <ul>
 *   <li>ORTHOGONAL: {@code P_k = Q[:, k r:(k+1) r]} with {@code Q = basis(derive(seed, draw, name, 0), d, K, r)}
 *       (docs/methods.md 7.6); needs K r <= d.
 *   <li>INDEPENDENT: {@code P_k = random(ORTHOGONAL, derive(seed, draw, name, k + 1), d, r)}.
 *   <li>SAME: slot 0's independent projector for every slot.
 * </ul>
 */
public final class RoundPlan {

  private final LlamaConfig model;
  private final RoundMode mode;
  private final long runSeed;
  private final long draw;
  private final int participants;
  private final int rank;
  // ORTHOGONAL: Q per matrix (every slot's slice is cut from it); INDEPENDENT and SAME: P per
  // "name@slot". Drawn once each, all of them in parallel when the plan is made (see of()).
  private final Map<String, double[]> drawn = new ConcurrentHashMap<>();
  /** float32 copies of the slices, by parameter name and slot, made once ({@link #floatSlice}). */
  private final Map<String, float[]> narrowed = new ConcurrentHashMap<>();
  /** Each slot's {@link #checksum}, made once. */
  private final Map<Integer, Integer> slotChecksums = new ConcurrentHashMap<>();

  private RoundPlan(LlamaConfig model, RoundMode mode, long runSeed, long draw, int participants, int rank) {
    this.model = model;
    this.mode = mode;
    this.runSeed = runSeed;
    this.draw = draw;
    this.participants = participants;
    this.rank = rank;
  }

  /** @throws IllegalArgumentException when the slices cannot exist (see {@link #requireFeasible}) */
  public static RoundPlan of(LlamaConfig model, RoundMode mode, long runSeed, long draw, int participants,
      int rank) {
    if (draw < 0) {
      throw new IllegalArgumentException("draw must be >= 0, got " + draw);
    }
    requireFeasible(model, mode, participants, rank);
    RoundPlan plan = new RoundPlan(model, mode, runSeed, draw, participants, rank);
    plan.drawAll();
    return plan;
  }

  /**
   * Draws every matrix's basis (or every slot's projector) up front, the matrices in parallel: the
   * coordinator and every worker need all of them each round, and a Q of d x K r costs O(d (K r)^2)
   * (about 0.5 s for 2048 x 512 on one core; a 1B model has 168 projected matrices). Each draw is a
   * pure function of its seed, so the result does not depend on the threads.
   */
  private void drawAll() {
    if (!mode.projected()) {
      return;
    }
    int slots = mode == RoundMode.INDEPENDENT ? participants : 1;
    projected(model).parallelStream().forEach(p -> {
      int d = dimension(p);
      if (mode.sliced()) {
        long seed = SeedSequence.derive(runSeed, draw, p.name(), 0);
        drawn.put(p.name(), mode == RoundMode.ORTHOGONAL_DCT ? OrthogonalSlices.dctBasis(seed, d, participants, rank)
            : OrthogonalSlices.basis(seed, d, participants, rank));
      } else {
        for (int k = 0; k < slots; k++) {
          drawn.put(p.name() + "@" + k, independent(p.name(), d, k));
        }
      }
    });
  }

  /**
   * Rejects a run whose slices cannot be drawn: rank r must fit every projected dimension d, and in
   * ORTHOGONAL mode K r must too; the message names the smallest d.
   */
  public static void requireFeasible(LlamaConfig model, RoundMode mode, int participants, int rank) {
    if (participants < 1) {
      throw new IllegalArgumentException("participants must be >= 1, got " + participants);
    }
    if (!mode.projected()) {
      return;
    }
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be >= 1 in mode " + mode.label() + ", got " + rank);
    }
    ParameterSpec smallest = null;
    for (ParameterSpec p : projected(model)) {
      if (smallest == null || dimension(p) < dimension(smallest)) {
        smallest = p;
      }
    }
    if (smallest == null) {
      throw new IllegalArgumentException("model has no projected matrices");
    }
    int d = dimension(smallest);
    long needed = mode.sliced() ? (long) participants * rank : rank;
    if (needed > d) {
      throw new IllegalArgumentException((mode.sliced()
          ? "workers x rank = " + participants + " x " + rank + " = " + needed
          : "rank " + rank) + " exceeds the smallest projected dimension d = " + d + " (" + smallest.name()
          + "); lower --rank or the number of workers");
    }
  }

  /** The projected matrices in parameter order. */
  public static List<ParameterSpec> projected(LlamaConfig model) {
    return model.parameters().stream().filter(p -> p.role() == ParameterSpec.Role.PROJECTED).toList();
  }

  /** The side GaLore's rule gives a matrix (RIGHT when rows >= cols). */
  public static Side side(ParameterSpec p) {
    return Side.forShape(p.rows(), p.cols());
  }

  /** d, the dimension a projector of {@code p} spans. */
  public static int dimension(ParameterSpec p) {
    return side(p).dimension(p.rows(), p.cols());
  }

  public LlamaConfig model() {
    return model;
  }

  public RoundMode mode() {
    return mode;
  }

  /** The draw index the projectors derive from (the round when slices are re-drawn every round). */
  public long draw() {
    return draw;
  }

  /** The seed the plan's projectors derive from (with the draw and the parameter names). */
  public long runSeed() {
    return runSeed;
  }

  public int participants() {
    return participants;
  }

  public int rank() {
    return rank;
  }

  /**
   * P_k as float32 (each value rounded to nearest from {@link #slice}'s, as {@code HostArrays} narrows),
   * made once per plan and then shared: a merge lifts every slot's factors with these, and a plan that
   * was drawn ahead ({@link RoundPlanCache#prefetch}) narrows them in the background ({@link
   * #narrowAll}), so the merge neither slices nor converts float64 on its path. The caller must not
   * change the array.
   */
  public float[] floatSlice(ParameterSpec p, int slot) {
    // Mode SAME gives every slot one projector: one float32 copy serves them all.
    return narrowed.computeIfAbsent(p.name() + "@" + (mode == RoundMode.SAME ? 0 : slot),
        k -> HostArrays.narrow(slice(p, slot)));
  }

  /**
   * Makes every slot's {@link #floatSlice} of every projected matrix and every slot's {@link #checksum}
   * (what a coordinator reads of a plan), then lets go of the float64 draw: the plan then holds half the
   * bytes, and {@link #slice} refuses. For a coordinator's plans only (its merge lifts float32 factors);
   * a worker's plan keeps its float64 slices.
   */
  public void narrowAll() {
    if (!mode.projected()) {
      return;
    }
    int[] sums = new int[participants];
    for (int k = 0; k < participants; k++) {
      prepare(k);
      sums[k] = checksum(k);
    }
    checksums = sums;
    drawn.clear();
  }

  /** Every slot's checksum once {@link #narrowAll} made them (the float64 draw is gone then); else null. */
  private volatile int[] checksums;

  /** P_k of a projected matrix: d x r, row-major float64. */
  public double[] slice(ParameterSpec p, int slot) {
    if (!mode.projected()) {
      throw new IllegalStateException("mode full has no projectors");
    }
    if (checksums != null) {
      throw new IllegalStateException("this plan keeps only its float32 slices (narrowAll): use floatSlice");
    }
    if (slot < 0 || slot >= participants) {
      throw new IllegalArgumentException("slot must be in [0, " + participants + "), got " + slot);
    }
    if (p.role() != ParameterSpec.Role.PROJECTED) {
      throw new IllegalArgumentException(p.name() + " is not a projected matrix");
    }
    int d = dimension(p);
    return switch (mode) {
      case ORTHOGONAL, ORTHOGONAL_DCT -> OrthogonalSlices.slice(drawn.get(p.name()), d, participants, rank, slot);
      case INDEPENDENT -> drawn.get(p.name() + "@" + slot).clone();
      case SAME -> drawn.get(p.name() + "@0").clone();
      case FULL -> throw new AssertionError();
    };
  }

  private double[] independent(String name, int d, int slot) {
    return Projector.random(ProjectionKind.ORTHOGONAL, SeedSequence.derive(runSeed, draw, name, slot + 1), d, rank);
  }

  /**
   * CRC32C over the little-endian float64 bytes of every P_k of {@code slot}, in parameter order; 0
   * in mode FULL. A worker compares it with the coordinator's before training on its slice.
   */
  public int checksum(int slot) {
    if (!mode.projected()) {
      return 0;
    }
    if (slot < 0 || slot >= participants) {
      throw new IllegalArgumentException("slot must be in [0, " + participants + "), got " + slot);
    }
    int[] made = checksums;
    return made != null ? made[slot] : slotChecksums.computeIfAbsent(slot, k -> {
      CRC32C crc = new CRC32C();
      for (ParameterSpec p : projected(model)) {
        double[] s = slice(p, k);
        ByteBuffer b = ByteBuffer.allocate(s.length * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(s);
        crc.update(b.array());
      }
      return (int) crc.getValue();
    });
  }

  /**
   * Makes {@code slot}'s {@link #checksum} and its {@link #floatSlice}s now: what a worker training that slot
   * reads of the plan before its first step. A worker's prefetched plan does it in the background, so
   * neither the checksum nor the slicing and narrowing is on the round's path. Keeps the float64 draw.
   */
  public void prepare(int slot) {
    if (!mode.projected()) {
      return;
    }
    checksum(slot);
    projected(model).parallelStream().forEach(p -> floatSlice(p, slot));
  }
}
