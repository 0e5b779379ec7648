package io.orthoslice.common.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

  @TempDir Path tmp;
  private NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  /** One tensor of every writable dtype, with random bits, including a scalar and an empty one. */
  private Map<String, NDArray> everyDtype() {
    Random r = new Random(7);
    Map<String, NDArray> m = new LinkedHashMap<>();
    m.put("z.f32", randomBytes(DataType.FLOAT32, new Shape(3, 5), r));
    m.put("a.f64", randomBytes(DataType.FLOAT64, new Shape(4), r));
    m.put("m.f16", randomBytes(DataType.FLOAT16, new Shape(2, 3), r));
    m.put("i64", randomBytes(DataType.INT64, new Shape(6), r));
    m.put("i32", randomBytes(DataType.INT32, new Shape(2, 2, 2), r));
    m.put("i8", randomBytes(DataType.INT8, new Shape(7), r));
    m.put("u8", randomBytes(DataType.UINT8, new Shape(9), r));
    m.put("scalar", manager.create(new long[] {42L}, new Shape()));
    m.put("empty", manager.create(new Shape(0, 4), DataType.FLOAT32));
    return m;
  }

  /** Arbitrary bit patterns (NaN payloads, subnormals) so that "bit-exact" means bits, not values. */
  private NDArray randomBytes(DataType t, Shape s, Random r) {
    byte[] b = new byte[(int) s.size() * t.getNumOfBytes()];
    r.nextBytes(b);
    ByteBuffer buf = ByteBuffer.allocateDirect(b.length).order(ByteOrder.nativeOrder());
    buf.put(b).flip();
    return manager.create(buf, s, t).duplicate();
  }

  static byte[] bytes(NDArray a) {
    ByteBuffer b = a.toByteBuffer();
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  @Test
  void roundTripIsBitExactForEveryDtype() throws IOException {
    Map<String, NDArray> in = everyDtype();
    Path f = tmp.resolve("t.safetensors");
    Safetensors.write(f, in, Map.of());
    Map<String, NDArray> out = Safetensors.read(f, manager);
    assertEquals(List.copyOf(in.keySet()), List.copyOf(out.keySet()));
    for (String n : in.keySet()) {
      assertEquals(in.get(n).getDataType(), out.get(n).getDataType(), n);
      assertEquals(in.get(n).getShape(), out.get(n).getShape(), n);
      assertArrayEquals(bytes(in.get(n)), bytes(out.get(n)), n);
      assertEquals(n, out.get(n).getName());
    }
  }

  @Test
  void transposedViewIsWrittenInItsLogicalOrder() throws IOException {
    NDArray t = manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3)).transpose();
    Path f = tmp.resolve("t.safetensors");
    Safetensors.write(f, Map.of("t", t), Map.of());
    NDArray back = Safetensors.read(f, manager).get("t");
    assertEquals(new Shape(3, 2), back.getShape());
    assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, back.toFloatArray());
  }

  @Test
  void headerHasPtFormatExtraMetadataAndAlignedData() throws IOException {
    Path f = tmp.resolve("t.safetensors");
    Safetensors.write(f, everyDtype(), Map.of("note", "hello"));
    byte[] file = Files.readAllBytes(f);
    long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8);
    JsonNode header = new ObjectMapper().readTree(new String(file, 8, (int) n, StandardCharsets.UTF_8));
    assertEquals("pt", header.get("__metadata__").get("format").textValue());
    assertEquals("hello", header.get("__metadata__").get("note").textValue());
    assertEquals("F16", header.get("m.f16").get("dtype").textValue());
    assertEquals(Map.of("format", "pt", "note", "hello"), Safetensors.readHeader(f).metadata());
  }

  @Test
  void tensorsAreLaidOutInTheGivenOrder() throws IOException {
    Path f = tmp.resolve("t.safetensors");
    Safetensors.write(f, everyDtype(), Map.of());
    List<String> byOffset = new ArrayList<>();
    Safetensors.readHeader(f).tensors().values().stream()
        .sorted((a, b) -> Long.compare(a.begin(), b.begin()) != 0 ? Long.compare(a.begin(), b.begin())
            : Long.compare(a.end(), b.end()))
        .forEach(e -> byOffset.add(e.name()));
    // "empty" has zero bytes and so shares its offset with the tensor after it; drop it to compare.
    byOffset.remove("empty");
    assertEquals(List.of("z.f32", "a.f64", "m.f16", "i64", "i32", "i8", "u8", "scalar"), byOffset);
  }

  @Test
  void bf16ReadsAsTheFloat32WithTheSameHighBits() throws IOException {
    // 1.0 = 0x3F80, -2.0 = 0xC000, 0.15625 = 0x3E20, +inf = 0x7F80; little-endian on disk.
    short[] bits = {0x3F80, (short) 0xC000, 0x3E20, 0x7F80};
    ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    for (short s : bits) {
      data.putShort(s);
    }
    Path f = handWritten("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", data.array());
    NDArray w = Safetensors.read(f, manager).get("w");
    assertEquals(DataType.FLOAT32, w.getDataType());
    assertEquals(new Shape(2, 2), w.getShape());
    assertArrayEquals(new float[] {1.0f, -2.0f, 0.15625f, Float.POSITIVE_INFINITY}, w.toFloatArray());
    NDArray w64 = Safetensors.read(f, manager, DataType.FLOAT64).get("w");
    assertArrayEquals(new double[] {1.0, -2.0, 0.15625, Double.POSITIVE_INFINITY}, w64.toDoubleArray());
  }

  @Test
  void floatTypeConvertsFloatingTensorsOnly() throws IOException {
    Map<String, NDArray> in = new LinkedHashMap<>();
    in.put("h", manager.create(new float[] {0.5f, -3f}).toType(DataType.FLOAT16, false));
    in.put("ids", manager.create(new long[] {5, 9}));
    Path f = tmp.resolve("t.safetensors");
    Safetensors.write(f, in, Map.of());
    assertEquals(DataType.FLOAT16, Safetensors.read(f, manager).get("h").getDataType());
    Map<String, NDArray> out = Safetensors.read(f, manager, DataType.FLOAT64);
    assertArrayEquals(new double[] {0.5, -3.0}, out.get("h").toDoubleArray());
    assertEquals(DataType.INT64, out.get("ids").getDataType());
  }

  @Test
  void readingASubsetLoadsOnlyThoseNames() throws IOException {
    Path f = tmp.resolve("t.safetensors");
    Safetensors.write(f, everyDtype(), Map.of());
    assertEquals(List.of("a.f64", "i8"), List.copyOf(Safetensors.read(f, manager, null, List.of("i8", "a.f64")).keySet()));
    IOException e = assertThrows(IOException.class, () -> Safetensors.read(f, manager, null, List.of("nope")));
    assertTrue(e.getMessage().contains("no tensor named 'nope'"), e.getMessage());
  }

  @Test
  void truncatedFileNamesTheTensorThatRunsPastTheEnd() throws IOException {
    Path f = tmp.resolve("t.safetensors");
    Safetensors.write(f, everyDtype(), Map.of());
    byte[] all = Files.readAllBytes(f);
    Files.write(f, java.util.Arrays.copyOf(all, all.length - 3));
    IOException e = assertThrows(IOException.class, () -> Safetensors.read(f, manager));
    assertTrue(e.getMessage().contains("tensor 'scalar' ends at data byte") && e.getMessage().contains("truncated"),
        e.getMessage());
  }

  @Test
  void fileShorterThanItsHeaderLengthIsRefused() throws IOException {
    Path f = tmp.resolve("t.safetensors");
    Files.write(f, new byte[] {(byte) 0xFF, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
    IOException e = assertThrows(IOException.class, () -> Safetensors.readHeader(f));
    assertTrue(e.getMessage().contains("header length 255 does not fit a file of 10 bytes"), e.getMessage());
  }

  @Test
  void gapBetweenTensorsIsRefused() throws IOException {
    Path f = handWritten("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12]);
    IOException e = assertThrows(IOException.class, () -> Safetensors.read(f, manager));
    assertTrue(e.getMessage().contains("tensor 'b' begins at data byte 8 but the previous tensor ends at 4"),
        e.getMessage());
  }

  @Test
  void overlappingTensorsAreRefused() throws IOException {
    Path f = handWritten("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);
    IOException e = assertThrows(IOException.class, () -> Safetensors.read(f, manager));
    assertTrue(e.getMessage().contains("tensor 'b' begins at data byte 4 but the previous tensor ends at 8"),
        e.getMessage());
  }

  @Test
  void byteLengthThatDisagreesWithShapeIsRefused() throws IOException {
    Path f = handWritten("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
    IOException e = assertThrows(IOException.class, () -> Safetensors.read(f, manager));
    assertTrue(e.getMessage().contains("tensor 'a' has data_offsets [0, 8] (8 bytes) but shape [3] of F32 needs 12"),
        e.getMessage());
  }

  @Test
  void unknownDtypeIsRefused() throws IOException {
    Path f = handWritten("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]);
    IOException e = assertThrows(IOException.class, () -> Safetensors.readHeader(f));
    assertTrue(e.getMessage().contains("tensor 'a' has dtype \"Q4\", which is not supported"), e.getMessage());
  }

  @Test
  void trailingBytesAfterTheLastTensorAreRefused() throws IOException {
    Path f = handWritten("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[2]);
    IOException e = assertThrows(IOException.class, () -> Safetensors.readHeader(f));
    assertTrue(e.getMessage().contains("holds 2 data bytes but its tensors cover only 1"), e.getMessage());
  }

  @Test
  void failedReadLeavesNothingInTheManager() throws IOException {
    Path f = handWritten("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
    try (NDManager m = manager.newSubManager()) {
      assertThrows(IOException.class, () -> Safetensors.read(f, m, null, List.of("a", "b")));
      assertEquals(0, m.getManagedArrays().size());
      Safetensors.read(f, m);
      assertEquals(1, m.getManagedArrays().size());
    }
  }

  @Test
  void bfloat16ArraysAndBadFormatMetadataAreNotWritten() {
    Map<String, NDArray> ok = Map.of("x", manager.create(new float[] {1f}));
    Path f = tmp.resolve("t.safetensors");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Safetensors.write(f, ok, Map.of("format", "tf")));
    assertTrue(e.getMessage().contains("'format' must be 'pt'"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> Safetensors.write(f, Map.of("b", manager.create(new boolean[] {true})), Map.of()));
    assertTrue(Files.notExists(f));
  }

  /** A file with {@code header} (padded to 8) followed by {@code data}, built by hand. */
  private Path handWritten(String header, byte[] data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    int padded = (h.length + 7) / 8 * 8;
    ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(padded).put(h);
    for (int i = h.length; i < padded; i++) {
      b.put((byte) ' ');
    }
    b.put(data);
    Path f = tmp.resolve("hand.safetensors");
    Files.write(f, b.array());
    return f;
  }
}
