package io.orthoslice.coordinator.grpc;

import io.orthoslice.common.wire.TensorCodec;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.proto.TensorChunk;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * The chunks of a map of host float32 tensors, encoded one tensor at a time as they are pulled (or of
 * tensors already in their wire form, {@link #encoded}).
 */
final class TensorMessages<T> implements Iterator<T> {

  private final Iterator<WireTensor> tensors;
  private final Function<TensorChunk, T> wrap;
  private final ArrayDeque<T> pending = new ArrayDeque<>();

  /**
   * @param shapes gives the shape of every name in {@code tensors}
   * @param first messages sent before the tensors (a header), may be empty
   */
  TensorMessages(Map<String, float[]> tensors, Function<String, long[]> shapes, Function<TensorChunk, T> wrap,
      Iterable<T> first) {
    this(lazily(tensors, shapes), wrap, first);
  }

  private TensorMessages(Iterator<WireTensor> tensors, Function<TensorChunk, T> wrap, Iterable<T> first) {
    this.tensors = tensors;
    this.wrap = wrap;
    first.forEach(pending::add);
  }

  /** The chunks of tensors in their wire form. */
  static <T> TensorMessages<T> encoded(Iterable<WireTensor> tensors, Function<TensorChunk, T> wrap,
      Iterable<T> first) {
    return new TensorMessages<>(tensors.iterator(), wrap, first);
  }

  /** float32 wire tensors made one at a time, as they are pulled (a weights map is never copied whole). */
  private static Iterator<WireTensor> lazily(Map<String, float[]> tensors, Function<String, long[]> shapes) {
    Iterator<Map.Entry<String, float[]>> it = tensors.entrySet().iterator();
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public WireTensor next() {
        Map.Entry<String, float[]> e = it.next();
        long[] shape = shapes.apply(e.getKey());
        if (shape == null) {
          throw new IllegalStateException("no shape for tensor " + e.getKey());
        }
        return WireTensor.ofFloats(e.getKey(), e.getValue(), shape);
      }
    };
  }

  @Override
  public boolean hasNext() {
    while (pending.isEmpty() && tensors.hasNext()) {
      TensorCodec.encode(tensors.next(), c -> pending.add(wrap.apply(c)));
    }
    return !pending.isEmpty();
  }

  @Override
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    return pending.poll();
  }
}
