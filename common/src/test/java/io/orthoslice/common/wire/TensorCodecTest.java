package io.orthoslice.common.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.protobuf.ByteString;
import io.orthoslice.proto.DType;
import io.orthoslice.proto.TensorChunk;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TensorCodecTest {

  private static List<TensorChunk> chunks(WireTensor t, int chunkBytes) {
    List<TensorChunk> out = new ArrayList<>();
    TensorCodec.encode(t, chunkBytes, out::add);
    return out;
  }

  private static WireTensor decode(List<TensorChunk> chunks) {
    TensorAssembler a = new TensorAssembler();
    WireTensor result = null;
    for (TensorChunk c : chunks) {
      Optional<WireTensor> t = a.accept(c);
      if (t.isPresent()) {
        result = t.get();
      }
    }
    a.finish();
    return result;
  }

  @Test
  void everyDtypeRoundTripsThroughNDArrays() {
    Random rng = new Random(7);
    try (NDManager m = NDManager.newBaseManager()) {
      for (DType p : DType.values()) {
        if (p == DType.DTYPE_UNSPECIFIED || p == DType.UNRECOGNIZED) {
          continue;
        }
        WireDType t = WireDType.fromProto(p); // every protocol type has its record type
        byte[] bytes = new byte[3 * 5 * WireTensor.elementBytes(t)];
        rng.nextBytes(bytes);
        if (t == WireDType.F16 || t == WireDType.F32 || t == WireDType.F64) {
          // random bytes can be NaN payloads; use integers instead so equality is exact
          NDArray ints = m.arange(15f).reshape(3, 5).toType(WireTensor.toDataType(t), false);
          WireTensor w = WireTensor.of("x", ints);
          bytes = w.data();
        }
        WireTensor in = new WireTensor("p." + t, t, new long[] {3, 5}, bytes);
        WireTensor out = decode(chunks(in, TensorCodec.MAX_CHUNK_BYTES));
        assertEquals(in.name(), out.name());
        assertEquals(t, out.dtype());
        assertArrayEquals(in.shape(), out.shape());
        assertArrayEquals(bytes, out.data());
        NDArray a = out.toNDArray(m);
        assertEquals(WireTensor.toDataType(t), a.getDataType());
        assertEquals(new Shape(3, 5), a.getShape());
        assertArrayEquals(bytes, WireTensor.of("again", a).data(), "dtype " + t);
      }
    }
  }

  @Test
  void tensorLargerThanOneChunkIsSplitAndReassembledExactly() {
    float[] v = new float[(TensorCodec.MAX_CHUNK_BYTES / Float.BYTES) * 2 + 123];
    Random rng = new Random(1);
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextFloat();
    }
    WireTensor in = WireTensor.ofFloats("big", v, v.length);
    List<TensorChunk> cs = chunks(in, TensorCodec.MAX_CHUNK_BYTES);
    assertEquals(3, cs.size());
    for (TensorChunk c : cs) {
      assertTrue(c.getSerializedSize() < 4 << 20);
      assertTrue(c.getData().size() <= TensorCodec.MAX_CHUNK_BYTES);
    }
    assertEquals(0, cs.get(1).getShapeCount());
    assertArrayEquals(v, decode(cs).toFloats());
  }

  @Test
  void badVersionIsRejected() {
    TensorChunk c = chunks(WireTensor.ofFloats("w", new float[] {1, 2}, 2), 1 << 20).get(0).toBuilder()
        .setVersion(2).build();
    WireFormatException e = assertThrows(WireFormatException.class, () -> new TensorAssembler().accept(c));
    assertTrue(e.getMessage().contains("version must be 1"), e.getMessage());
  }

  @Test
  void byteLengthThatDoesNotMatchShapeIsRejected() {
    TensorChunk c = chunks(WireTensor.ofFloats("w", new float[] {1, 2}, 2), 1 << 20).get(0).toBuilder()
        .setShape(0, 3).build();
    WireFormatException e = assertThrows(WireFormatException.class, () -> new TensorAssembler().accept(c));
    assertTrue(e.getMessage().contains("total_bytes 8 does not match shape [3]"), e.getMessage());
  }

  @Test
  void nonPositiveDimensionAndUnspecifiedDtypeAreRejected() {
    TensorChunk ok = chunks(WireTensor.ofFloats("w", new float[] {1, 2}, 2), 1 << 20).get(0);
    assertThrows(WireFormatException.class,
        () -> new TensorAssembler().accept(ok.toBuilder().setShape(0, 0).build()));
    assertThrows(WireFormatException.class,
        () -> new TensorAssembler().accept(ok.toBuilder().setDtype(DType.DTYPE_UNSPECIFIED).build()));
    assertThrows(WireFormatException.class, () -> new WireTensor("w", WireDType.F32, new long[] {3}, new byte[8]));
  }

  @Test
  void corruptedDataFailsTheChecksum() {
    TensorChunk c = chunks(WireTensor.ofFloats("w", new float[] {1, 2}, 2), 1 << 20).get(0);
    byte[] d = c.getData().toByteArray();
    d[3] ^= 1;
    TensorChunk bad = c.toBuilder().setData(ByteString.copyFrom(d)).build();
    WireFormatException e = assertThrows(WireFormatException.class, () -> new TensorAssembler().accept(bad));
    assertTrue(e.getMessage().contains("CRC32C"), e.getMessage());
  }

  @Test
  void streamEndingInsideATensorIsAnError() {
    List<TensorChunk> cs = chunks(WireTensor.ofFloats("w", new float[8], 8), 8);
    TensorAssembler a = new TensorAssembler();
    a.accept(cs.get(0));
    assertThrows(WireFormatException.class, a::finish);
  }

  @Test
  void interleavedTensorsAreRejected() {
    List<TensorChunk> first = chunks(WireTensor.ofFloats("a", new float[8], 8), 8);
    List<TensorChunk> second = chunks(WireTensor.ofFloats("b", new float[8], 8), 8);
    TensorAssembler a = new TensorAssembler();
    a.accept(first.get(0));
    assertThrows(WireFormatException.class, () -> a.accept(second.get(0)));
  }

  @Test
  void float32ValuesSurviveToNDArray() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] v = {1.5f, -2.25f, 3f, 4f, 5f, 6f};
      NDArray a = decode(chunks(WireTensor.ofFloats("w", v, 2, 3), 4)).toNDArray(m);
      assertEquals(DataType.FLOAT32, a.getDataType());
      assertArrayEquals(v, a.toFloatArray());
    }
  }
}
