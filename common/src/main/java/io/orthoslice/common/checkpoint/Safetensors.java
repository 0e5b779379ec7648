package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes tensors in the safetensors format
 * (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
 * JSON ({@link SafetensorsHeader}), then the raw little-endian tensor bytes.
 *
 * <p>We write our own rather than use DJL's {@code NDList.encode(Encoding.SAFETENSORS)} because
 * that cannot write {@code __metadata__}, and Hugging Face transformers refuses a safetensors
 * checkpoint whose {@code __metadata__.format} is not "pt" (or another framework it knows).
 *
 * <p>Writing streams one tensor at a time, so a multi-gigabyte model never sits in one Java
 * buffer. Reading memory-maps each tensor's bytes and copies them into native memory; BF16, which
 * DJL 0.35.1 cannot represent, is widened to F32 in Java (a bf16 is the top half of an f32).
 */
public final class Safetensors {

  private Safetensors() {}

  /** Writes {@code tensors} to {@code file} atomically (temp file, fsync, rename). */
  public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
      throws IOException {
    AtomicFiles.write(file, ch -> write(ch, tensors, metadata));
  }

  /**
   * Writes the header and then each tensor's bytes, in the map's iteration order.
   *
   * @param metadata extra {@code __metadata__} strings; "format" is always "pt"
   */
  public static void write(WritableByteChannel out, Map<String, NDArray> tensors, Map<String, String> metadata)
      throws IOException {
    requireLittleEndianHost();
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    for (Map.Entry<String, String> m : metadata.entrySet()) {
      if (m.getKey().equals("format") && !"pt".equals(m.getValue())) {
        throw new IllegalArgumentException("metadata 'format' must be 'pt' (transformers checks it), got " + m.getValue());
      }
      meta.put(m.getKey(), m.getValue());
    }
    List<SafetensorsHeader.Entry> entries = new ArrayList<>();
    long offset = 0;
    for (Map.Entry<String, NDArray> t : tensors.entrySet()) {
      String name = t.getKey();
      if (name.isEmpty() || name.equals(SafetensorsHeader.METADATA_KEY)) {
        throw new IllegalArgumentException("tensor name must be non-empty and not __metadata__, got '" + name + "'");
      }
      NDArray a = t.getValue();
      SafetensorsDtype dtype;
      try {
        dtype = SafetensorsDtype.of(a.getDataType());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("tensor '" + name + "': " + e.getMessage(), e);
      }
      long bytes = a.size() * dtype.bytes();
      entries.add(new SafetensorsHeader.Entry(name, dtype, a.getShape(), offset, offset + bytes));
      offset += bytes;
    }
    byte[] header = SafetensorsHeader.encode(meta, entries);
    ByteBuffer prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
    prefix.putLong(header.length).put(header).flip();
    writeFully(out, prefix);
    for (SafetensorsHeader.Entry e : entries) {
      ByteBuffer data = tensors.get(e.name()).toByteBuffer();
      if (data.remaining() != e.byteLength()) {
        throw new IllegalStateException("tensor '" + e.name() + "' gave " + data.remaining()
            + " bytes, expected " + e.byteLength());
      }
      writeFully(out, data);
    }
  }

  /** Names, dtypes, shapes and offsets, without loading any tensor. */
  public static SafetensorsHeader readHeader(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return SafetensorsHeader.read(ch, file);
    }
  }

  /** Every tensor in its stored type (BF16 arrives as FLOAT32), owned by {@code manager}. */
  public static Map<String, NDArray> read(Path file, NDManager manager) throws IOException {
    return read(file, manager, null, null);
  }

  /**
   * Every tensor, floating ones converted to {@code floatType}.
   *
   * @param floatType FLOAT16, FLOAT32 or FLOAT64; null keeps each stored type
   */
  public static Map<String, NDArray> read(Path file, NDManager manager, DataType floatType) throws IOException {
    return read(file, manager, floatType, null);
  }

  /**
   * The named tensors (null: all), in the header's order, floating ones converted to
   * {@code floatType} (null: stored type). A name the file lacks is an IOException. Nothing is left
   * allocated in {@code manager} when reading fails.
   */
  public static Map<String, NDArray> read(Path file, NDManager manager, DataType floatType, Collection<String> names)
      throws IOException {
    requireLittleEndianHost();
    if (floatType != null && (!floatType.isFloating() || floatType == DataType.BFLOAT16)) {
      throw new IllegalArgumentException("floatType must be FLOAT16, FLOAT32 or FLOAT64 (or null), got " + floatType);
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      SafetensorsHeader h = SafetensorsHeader.read(ch, file);
      Set<String> wanted = names == null ? h.tensors().keySet() : new LinkedHashSet<>(names);
      for (String n : wanted) {
        if (!h.tensors().containsKey(n)) {
          throw new IOException(file + ": no tensor named '" + n + "' (the file has " + h.tensors().size() + ")");
        }
      }
      Map<String, NDArray> out = new LinkedHashMap<>();
      try (NDManager scope = manager.newSubManager()) {
        for (SafetensorsHeader.Entry e : h.tensors().values()) {
          if (wanted.contains(e.name())) {
            out.put(e.name(), load(ch, h, e, scope, floatType, file));
          }
        }
        // Only a complete result moves to the caller's manager; closing scope frees a partial one.
        for (NDArray a : out.values()) {
          a.attach(manager);
        }
      }
      return out;
    }
  }

  private static NDArray load(FileChannel ch, SafetensorsHeader h, SafetensorsHeader.Entry e, NDManager scope,
      DataType floatType, Path file) throws IOException {
    DataType target = floatType != null && e.dtype().isFloating() ? floatType : e.dtype().loadedAs();
    long bytes = e.byteLength();
    long loadedBytes = e.dtype() == SafetensorsDtype.BF16 ? 2 * bytes : bytes;
    if (loadedBytes > Integer.MAX_VALUE) {
      throw new IOException(file + ": tensor '" + e.name() + "' needs " + loadedBytes
          + " bytes in memory; DJL arrays are limited to 2^31-1 bytes per buffer");
    }
    NDArray out;
    if (bytes == 0) {
      out = scope.create(e.shape(), target);
    } else {
      ByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, h.dataStart() + e.begin(), bytes);
      ByteBuffer data = e.dtype() == SafetensorsDtype.BF16 ? widenBf16(mapped) : mapped;
      // The PyTorch engine wraps a direct buffer in place (torch::from_blob); the view must not
      // outlive this method, since an in-place update of a read-only mapping would crash the JVM.
      try (NDArray view = scope.create(data, e.shape(), e.dtype().loadedAs())) {
        out = view.getDataType() == target ? view.duplicate() : view.toType(target, false);
      }
    }
    out.setName(e.name());
    return out;
  }

  /** bf16 is the high 16 bits of an IEEE f32, so widening is exact: {@code bits << 16}. */
  private static ByteBuffer widenBf16(ByteBuffer bf16) {
    ShortBuffer src = bf16.order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
    ByteBuffer out = ByteBuffer.allocateDirect(src.remaining() * 4).order(ByteOrder.nativeOrder());
    IntBuffer dst = out.asIntBuffer();
    for (int i = 0; i < src.remaining(); i++) {
      dst.put(i, (src.get(i) & 0xFFFF) << 16);
    }
    return out;
  }

  private static void writeFully(WritableByteChannel out, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      out.write(buf);
    }
  }

  /** The format is little-endian and DJL hands us native-order bytes; we only run on LE hosts. */
  private static void requireLittleEndianHost() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException("safetensors I/O needs a little-endian host, this one is "
          + ByteOrder.nativeOrder());
    }
  }
}
