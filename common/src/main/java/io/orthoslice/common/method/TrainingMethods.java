package io.orthoslice.common.method;

import io.orthoslice.common.config.AdamHyper;

import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import io.orthoslice.common.optim.LdAdam;
import io.orthoslice.common.projection.ProjectionKind;
import io.orthoslice.common.projection.ProjectionSource;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Builds the per-parameter training rules of a run's method. Projected matrices (q, k, v, o, gate,
 * up, down) follow the method; embeddings, norms and the output head always train densely with
 * AdamW, as in GaLore's and LDAdam's code.
 */
public final class TrainingMethods {

  private TrainingMethods() {}

  /** With the run's own projections, drawn from its seed. */
  public static LinkedHashMap<String, ParameterTrainer> build(
      LlamaConfig model, TrainConfig config, Map<String, NDArray> weights, NDManager root) {
    return build(model, config, weights, root, standaloneProjections(config.method(), config.seed()));
  }

  /**
   * @param weights initial weights by HF name, owned by {@code root}; ownership passes to the
   *     returned trainers
   * @param projections where projected matrices get P (a worker passes its slice of the round)
   */
  public static LinkedHashMap<String, ParameterTrainer> build(LlamaConfig model, TrainConfig config,
      Map<String, NDArray> weights, NDManager root, ProjectionSource projections) {
    MethodSpec m = config.method();
    validate(model, m);
    AdamW adam = new AdamW(new AdamHyper(config.beta1(), config.beta2(), config.eps()));
    DataType master = config.precision().master();
    FrozenBase.Format baseFormat = FrozenBase.parse(m.base());
    LinkedHashMap<String, ParameterTrainer> out = new LinkedHashMap<>();
    for (ParameterSpec spec : model.parameters()) {
      NDArray w = weights.get(spec.name());
      if (w == null) {
        throw new IllegalArgumentException("initial weights lack parameter " + spec.name());
      }
      // Decoupled weight decay on matrices only (embedding, projections, head), never on norm gains.
      double wd = spec.isMatrix() ? config.weightDecay() : 0.0;
      boolean projected = spec.role() == ParameterSpec.Role.PROJECTED;
      ParameterTrainer t;
      if (!projected || m.method() == MethodSpec.Method.FULL && m.optimizer() == MethodSpec.Optimizer.ADAMW) {
        t = new DenseParameter(spec, w, adam, wd, root);
      } else if (m.optimizer() == MethodSpec.Optimizer.LDADAM) {
        LdAdam.Hyper h = new LdAdam.Hyper(config.beta1(), config.beta2(), config.eps(), config.beta1(), m.rank(), true);
        t = new LdAdamMatrix(spec, w, new LdAdam(h), wd, root);
      } else {
        t = switch (m.method()) {
          case GALORE -> new GaloreMatrix(w, projected(spec, m, projections, adam, root, master), adam, m.scale(), wd);
          case ADAPTER -> new AdapterMatrix(new FrozenBase(w, baseFormat, root),
              projected(spec, m, projections, adam, root, master), adam, m.scale(), root);
          case LORA, RELORA -> new LoraMatrix(spec, new FrozenBase(w, baseFormat, root), m.rank(), m.scale(),
              config.seed(), m.method() == MethodSpec.Method.RELORA, m.mergeEvery(), adam, root, master);
          case FULL -> throw new IllegalStateException("unreachable");
        };
      }
      out.put(spec.name(), t);
    }
    return out;
  }

  private static ProjectedState projected(ParameterSpec spec, MethodSpec m, ProjectionSource projections,
      AdamW adam, NDManager root, DataType dtype) {
    return new ProjectedState(spec, m.rank(), projections, m.statePolicy(), adam.hyper(), root, dtype);
  }

  /** --projection value of the two-sided (Kronecker-factored) method: L and R semi-orthogonal. */
  public static final String TWO_SIDED = "two-sided";

  /**
   * The run's own projection source for --projection; {@code two-sided} draws L (m x r) and R (n x
   * r) as seeded semi-orthogonal matrices (orthonormal columns, so LDAdam's transport is exact).
   */
  static ProjectionSource standaloneProjections(MethodSpec m, long seed) {
    if (m.method() != MethodSpec.Method.GALORE && m.method() != MethodSpec.Method.ADAPTER) {
      return null;
    }
    if (TWO_SIDED.equals(m.projection())) {
      return ProjectionSource.twoSided(ProjectionKind.ORTHOGONAL, seed);
    }
    return ProjectionSource.standalone(ProjectionKind.parse(m.projection()), seed);
  }

  /** Refuses combinations a method cannot honour, with one line naming the options. */
  static void validate(LlamaConfig model, MethodSpec m) {
    if (m.method() == MethodSpec.Method.FULL) {
      if (m.optimizer() == MethodSpec.Optimizer.LDADAM && m.rank() == 0) {
        throw new IllegalArgumentException("--optimizer ldadam needs --rank");
      }
      if (!"fp32".equals(m.base().toLowerCase(Locale.ROOT)) && !"full".equals(m.base())) {
        throw new IllegalArgumentException("--base " + m.base() + " needs a frozen base: use --method adapter, lora or relora");
      }
    } else if (m.optimizer() == MethodSpec.Optimizer.LDADAM) {
      throw new IllegalArgumentException("--optimizer ldadam is its own low-rank method; use it with --method full");
    }
    if (m.method() == MethodSpec.Method.GALORE && !"fp32".equals(m.base())) {
      throw new IllegalArgumentException("--base " + m.base() + " cannot be used with --method galore (it trains W itself);"
          + " allowed with adapter, lora, relora");
    }
    FrozenBase.parse(m.base());
    if (m.rank() > 0) {
      for (ParameterSpec s : model.parameters()) {
        if (s.role() == ParameterSpec.Role.PROJECTED) {
          int d = Math.min(s.rows(), s.cols());
          if (m.rank() > d) {
            throw new IllegalArgumentException("--rank " + m.rank() + " exceeds the projected side " + d + " of "
                + s.name() + " (" + s.rows() + " x " + s.cols() + "); allowed: 1.." + d);
          }
        }
      }
    }
    if ((m.method() == MethodSpec.Method.GALORE || m.method() == MethodSpec.Method.ADAPTER)
        && !TWO_SIDED.equals(m.projection())) {
      try {
        ProjectionKind.parse(m.projection());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("projection kind must be one of svd, gaussian, rademacher, orthogonal,"
            + " " + TWO_SIDED + ", got '" + m.projection() + "'");
      }
    }
  }
}
