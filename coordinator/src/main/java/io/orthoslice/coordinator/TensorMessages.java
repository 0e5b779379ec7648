package io.orthoslice.coordinator;

import io.orthoslice.common.wire.TensorCodec;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.proto.TensorChunk;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Function;

/** The chunks of a map of host float32 tensors, encoded one tensor at a time as they are pulled. */
final class TensorMessages<T> implements Iterator<T> {

  private final Iterator<Map.Entry<String, float[]>> tensors;
  private final Function<String, long[]> shapes;
  private final Function<TensorChunk, T> wrap;
  private final ArrayDeque<T> pending = new ArrayDeque<>();

  /**
   * @param shapes gives the shape of every name in {@code tensors}
   * @param first messages sent before the tensors (a header), may be empty
   */
  TensorMessages(Map<String, float[]> tensors, Function<String, long[]> shapes, Function<TensorChunk, T> wrap,
      Iterable<T> first) {
    this.tensors = tensors.entrySet().iterator();
    this.shapes = shapes;
    this.wrap = wrap;
    first.forEach(pending::add);
  }

  @Override
  public boolean hasNext() {
    while (pending.isEmpty() && tensors.hasNext()) {
      Map.Entry<String, float[]> e = tensors.next();
      long[] shape = shapes.apply(e.getKey());
      if (shape == null) {
        throw new IllegalStateException("no shape for tensor " + e.getKey());
      }
      TensorCodec.encode(WireTensor.ofFloats(e.getKey(), e.getValue(), shape), c -> pending.add(wrap.apply(c)));
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
