package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file: 8-byte little-endian length N, then N bytes of UTF-8 JSON
 * mapping each tensor name to its dtype, shape and {@code data_offsets} relative to the first data
 * byte, plus an optional {@code __metadata__} object of strings.
 *
 * @param metadata the {@code __metadata__} strings (empty when absent)
 * @param tensors every tensor, in the order the header lists them
 * @param dataStart file position of the first data byte (8 + N)
 */
public record SafetensorsHeader(Map<String, String> metadata, Map<String, Entry> tensors, long dataStart) {

  /** One tensor's place in the data section; {@code [begin, end)} is relative to {@code dataStart}. */
  public record Entry(String name, SafetensorsDtype dtype, Shape shape, long begin, long end) {
    public long byteLength() {
      return end - begin;
    }
  }

  /** The reference implementation refuses larger headers; so do we, before allocating one. */
  static final long MAX_HEADER_BYTES = 100_000_000L;

  static final String METADATA_KEY = "__metadata__";

  private static final JsonMapper JSON =
      JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  public SafetensorsHeader {
    metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    if (dataStart < 8) {
      throw new IllegalArgumentException("dataStart must be >= 8, got " + dataStart);
    }
  }

  /**
   * The header JSON for {@code entries} (offsets already assigned), padded with spaces so that the
   * data section starts 8-byte aligned, as the reference writer does.
   */
  static byte[] encode(Map<String, String> metadata, List<Entry> entries) {
    ObjectNode root = JSON.createObjectNode();
    ObjectNode meta = root.putObject(METADATA_KEY);
    metadata.forEach(meta::put);
    for (Entry e : entries) {
      ObjectNode t = root.putObject(e.name());
      t.put("dtype", e.dtype().name());
      ArrayNode shape = t.putArray("shape");
      for (long d : e.shape().getShape()) {
        shape.add(d);
      }
      t.putArray("data_offsets").add(e.begin()).add(e.end());
    }
    byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    byte[] out = Arrays.copyOf(json, padded);
    Arrays.fill(out, json.length, padded, (byte) ' ');
    return out;
  }

  /** Reads and validates the header of {@code file}; every problem is an IOException naming it. */
  static SafetensorsHeader read(FileChannel ch, Path file) throws IOException {
    long size = ch.size();
    if (size < 8) {
      throw new IOException(file + ": " + size + " bytes is too short for a safetensors file (8-byte header length)");
    }
    long n = readFully(ch, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    if (n <= 0 || n > MAX_HEADER_BYTES || n > size - 8) {
      throw new IOException(file + ": header length " + n + " does not fit a file of " + size
          + " bytes (truncated or not safetensors)");
    }
    ByteBuffer raw = readFully(ch, 8, (int) n);
    JsonNode root;
    try {
      root = JSON.readTree(new String(raw.array(), StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new IOException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IOException(file + ": header must be a JSON object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    Map<String, Entry> tensors = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> f : root.properties()) {
      if (METADATA_KEY.equals(f.getKey())) {
        readMetadata(f.getValue(), metadata, file);
      } else {
        tensors.put(f.getKey(), entry(f.getKey(), f.getValue(), file));
      }
    }
    checkLayout(tensors.values(), size - 8 - n, file);
    return new SafetensorsHeader(metadata, tensors, 8 + n);
  }

  private static void readMetadata(JsonNode node, Map<String, String> out, Path file) throws IOException {
    if (!node.isObject()) {
      throw new IOException(file + ": __metadata__ must be an object of strings");
    }
    for (Map.Entry<String, JsonNode> m : node.properties()) {
      if (!m.getValue().isTextual()) {
        throw new IOException(file + ": __metadata__ value '" + m.getKey() + "' must be a string");
      }
      out.put(m.getKey(), m.getValue().textValue());
    }
  }

  private static Entry entry(String name, JsonNode node, Path file) throws IOException {
    String where = file + ": tensor '" + name + "'";
    if (!node.isObject()) {
      throw new IOException(where + " must be an object with dtype, shape and data_offsets");
    }
    JsonNode dt = node.get("dtype");
    SafetensorsDtype dtype = dt != null && dt.isTextual() ? SafetensorsDtype.fromCode(dt.textValue()) : null;
    if (dtype == null) {
      throw new IOException(where + " has dtype " + dt + ", which is not supported; allowed: "
          + Arrays.toString(SafetensorsDtype.values()));
    }
    long[] shape = longs(node.get("shape"), -1, where + " shape");
    long[] offsets = longs(node.get("data_offsets"), 2, where + " data_offsets");
    if (offsets[1] < offsets[0]) {
      throw new IOException(where + " has data_offsets " + Arrays.toString(offsets) + " that end before they begin");
    }
    long numel = 1;
    try {
      for (long d : shape) {
        numel = Math.multiplyExact(numel, d);
      }
      long need = Math.multiplyExact(numel, dtype.bytes());
      if (offsets[1] - offsets[0] != need) {
        throw new IOException(where + " has data_offsets " + Arrays.toString(offsets) + " (" + (offsets[1] - offsets[0])
            + " bytes) but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + need + " bytes");
      }
    } catch (ArithmeticException e) {
      throw new IOException(where + " has shape " + Arrays.toString(shape) + " whose byte size overflows", e);
    }
    return new Entry(name, dtype, new Shape(shape), offsets[0], offsets[1]);
  }

  /** Non-negative integers; {@code count} < 0 allows any length. */
  private static long[] longs(JsonNode node, int count, String what) throws IOException {
    if (node == null || !node.isArray() || (count >= 0 && node.size() != count)) {
      throw new IOException(what + " must be an array of " + (count >= 0 ? count + " " : "") + "non-negative integers");
    }
    long[] out = new long[node.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode v = node.get(i);
      if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
        throw new IOException(what + " must be an array of non-negative integers, got " + node);
      }
      out[i] = v.longValue();
    }
    return out;
  }

  /** Tensors must tile the data section exactly: no gaps, overlaps, or bytes past the end. */
  private static void checkLayout(Iterable<Entry> entries, long dataBytes, Path file) throws IOException {
    List<Entry> sorted = new ArrayList<>();
    entries.forEach(sorted::add);
    sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    long expected = 0;
    for (Entry e : sorted) {
      if (e.end() > dataBytes) {
        throw new IOException(file + ": tensor '" + e.name() + "' ends at data byte " + e.end()
            + " but the file holds only " + dataBytes + " data bytes (truncated?)");
      }
      if (e.begin() != expected) {
        throw new IOException(file + ": tensor '" + e.name() + "' begins at data byte " + e.begin()
            + " but the previous tensor ends at " + expected + "; data_offsets must be contiguous");
      }
      expected = e.end();
    }
    if (expected != dataBytes) {
      throw new IOException(file + ": the file holds " + dataBytes + " data bytes but its tensors cover only "
          + expected);
    }
  }

  private static ByteBuffer readFully(FileChannel ch, long position, int length) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(length);
    while (buf.hasRemaining()) {
      if (ch.read(buf, position + buf.position()) < 0) {
        throw new EOFException("unexpected end of file at byte " + (position + buf.position()));
      }
    }
    return buf.flip();
  }
}
