package io.orthoslice.common.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.quant.Int8Weight;
import io.orthoslice.common.quant.Nf4Weight;
import io.orthoslice.common.quant.QuantizedWeight;
import java.util.Locale;
import java.util.Map;

/**
 * The frozen W under an adapter: kept in the master dtype, or quantized (INT8 per output channel,
 * NF4 in blocks of 64 as QLoRA) and dequantized on the fly in each forward pass. A merge adds the
 * adapter's update to it (re-quantizing a quantized base). Checkpoints carry the codes and scales
 * themselves, so a resumed run dequantizes exactly the same base.
 */
final class FrozenBase implements AutoCloseable {

  enum Format { FULL, INT8, NF4 }

  private final Format format;
  private final NDManager owner;
  private NDArray full;
  private QuantizedWeight quantized;

  FrozenBase(NDArray w, Format format, NDManager owner) {
    this.format = format;
    this.owner = owner;
    if (format == Format.FULL) {
      full = w;
    } else {
      quantized = quantize(w);
      w.close();
    }
  }

  static Format parse(String base) {
    return switch (base.toLowerCase(Locale.ROOT)) {
      case "fp32", "fp64", "full" -> Format.FULL;
      case "int8" -> Format.INT8;
      case "nf4" -> Format.NF4;
      case "bf16" -> throw new IllegalArgumentException(
          "base bf16 is not available: DJL 0.35.1 has no bfloat16; allowed: fp32, int8, nf4");
      default -> throw new IllegalArgumentException("unknown base '" + base + "'; allowed: fp32, int8, nf4");
    };
  }

  private QuantizedWeight quantize(NDArray w) {
    return format == Format.INT8 ? Int8Weight.quantize(w, owner) : Nf4Weight.quantize(w, owner);
  }

  boolean quantized() {
    return format != Format.FULL;
  }

  /** The full-precision array (only for an unquantized base). */
  NDArray full() {
    return full;
  }

  /** W in {@code dtype} for this step; a quantized base is dequantized into {@code scope}. */
  NDArray value(DataType dtype, NDManager scope) {
    if (quantized != null) {
      return quantized.dequantize(scope, dtype);
    }
    return FullRankWeight.value(full, dtype, scope);
  }

  /** W <- W + delta; {@code delta} belongs to {@code scope}. */
  void add(NDArray delta, NDManager scope) {
    if (quantized == null) {
      full.addi(delta);
      return;
    }
    NDArray w = quantized.dequantize(scope, DataType.FLOAT32).addi(delta.toType(DataType.FLOAT32, false));
    quantized.close();
    quantized = quantize(w);
  }

  /**
   * What an exact resume needs: the full array, or the quantized codes and scales as they are (a
   * base re-quantized from the checkpoint's dequantized weights would differ after a merge).
   */
  Map<String, NDArray> state() {
    return quantized == null ? Map.of("base", full)
        : Map.of("base_codes", quantized.codes(), "base_scales", quantized.scales());
  }

  /** Restores what {@link #state()} saved; {@code param} names the parameter in errors. */
  void load(Map<String, NDArray> saved, String param) {
    for (Map.Entry<String, NDArray> e : state().entrySet()) {
      StateArrays.copyInto(e.getValue(), saved, e.getKey(), param);
    }
  }

  long bytes() {
    return quantized != null ? quantized.storedBytes() : full.size() * full.getDataType().getNumOfBytes();
  }

  @Override
  public void close() {
    if (full != null) {
      full.close();
    }
    if (quantized != null) {
      try {
        quantized.close();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
