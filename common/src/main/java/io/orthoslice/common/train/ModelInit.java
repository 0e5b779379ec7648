package io.orthoslice.common.train;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.projection.SeedSequence;
import java.util.LinkedHashMap;

/**
 * Hugging Face Llama initialization: matrices and the embedding N(0, initializer_range^2), norm
 * gains 1. Each tensor draws from its own portable stream seeded by (run seed, name), so the
 * weights are identical on every machine and independent of the order tensors are made in.
 */
public final class ModelInit {

  private ModelInit() {}

  public static LinkedHashMap<String, NDArray> initialize(
      LlamaConfig config, long seed, NDManager owner, DataType dtype) {
    LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
    for (ParameterSpec p : config.parameters()) {
      NDArray a;
      if (p.role() == ParameterSpec.Role.NORM) {
        a = owner.ones(new Shape(p.shape()), dtype);
      } else {
        PortableRandom rng = new PortableRandom(SeedSequence.derive(seed, -1, p.name(), 0));
        float[] values = new float[Math.toIntExact(p.numel())];
        double std = config.initializerRange();
        for (int i = 0; i < values.length; i++) {
          values[i] = (float) (rng.nextGaussian() * std);
        }
        // DJL wraps the host buffer of create() without copying and frees it with the Java object;
        // a tensor that outlives that object must own its storage, so copy into torch's allocator.
        a = HostArrays.of(owner, values, new Shape(p.shape()), dtype);
      }
      a.setName(p.name());
      out.put(p.name(), a);
    }
    return out;
  }
}
