package io.orthoslice.common.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * A frozen weight stored in a compressed form under an adapter (QLoRA style): only the adapter
 * trains, and the base weight is expanded on the fly for each forward pass.
 */
public interface QuantizedWeight extends AutoCloseable {

  /** Shape of the original weight. */
  Shape shape();

  /**
   * The weight expanded to {@code dtype} on {@code manager}'s device, owned by {@code manager}.
   * Made with engine ops only, so it runs wherever the codes live.
   */
  NDArray dequantize(NDManager manager, DataType dtype);

  /** The stored codes (INT8: one per element; NF4: two 4-bit indices per byte). */
  NDArray codes();

  /** The stored scales (INT8: one per row; NF4: one per block). */
  NDArray scales();

  /** Bytes of the stored arrays (codes plus scales), as measured from their sizes. */
  long storedBytes();

  /** Short format name, e.g. "int8" or "nf4". */
  String format();

  @Override
  void close();
}
