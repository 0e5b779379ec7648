package io.orthoslice.common.wire;

import io.orthoslice.proto.TensorChunk;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * Reassembles a stream of {@link TensorChunk}s into whole tensors, one at a time and in order.
 * Every violation of the format (version, dtype, shape, lengths, offsets, interleaving, checksum)
 * is a {@link WireFormatException} naming the tensor; nothing partial is ever returned. Sizes beyond
 * the limits (a chunk over {@link TensorCodec#MAX_CHUNK_BYTES}, tensors declaring more than the
 * stream's byte budget) are a {@link WireLimitException}, raised before anything is buffered.
 */
public final class TensorAssembler {

  private final long maxTotalBytes;
  private long declared;

  private String name;
  private WireDType dtype;
  private long[] shape;
  private int crc;
  private byte[] buffer;
  private int received;

  /** An assembler without a budget (tensors are limited to 2 GiB each). */
  public TensorAssembler() {
    this(Long.MAX_VALUE);
  }

  /** @param maxTotalBytes the most data bytes all tensors of the stream may declare together */
  public TensorAssembler(long maxTotalBytes) {
    this.maxTotalBytes = maxTotalBytes;
  }

  /** Takes the next chunk; returns the tensor when this chunk completed it. */
  public Optional<WireTensor> accept(TensorChunk c) {
    if (c.getVersion() != TensorCodec.VERSION) {
      throw new WireFormatException("tensor chunk version must be " + TensorCodec.VERSION + ", got "
          + c.getVersion());
    }
    if (c.getData().size() > TensorCodec.MAX_CHUNK_BYTES) {
      throw new WireLimitException("tensor " + c.getName() + ": chunk of " + c.getData().size()
          + " bytes exceeds the limit of " + TensorCodec.MAX_CHUNK_BYTES);
    }
    if (buffer == null) {
      start(c);
    } else if (!c.getName().equals(name) || c.getOffset() != received) {
      throw new WireFormatException("tensor " + name + " incomplete (" + received + " of " + buffer.length
          + " bytes) when chunk " + c.getName() + " at offset " + c.getOffset() + " arrived");
    }
    if (c.getData().size() > buffer.length - received) {
      throw new WireFormatException("tensor " + name + ": chunk at offset " + c.getOffset() + " of "
          + c.getData().size() + " bytes runs past the declared " + buffer.length + " bytes");
    }
    if (c.getData().isEmpty()) {
      throw new WireFormatException("tensor " + name + ": empty chunk at offset " + c.getOffset());
    }
    c.getData().copyTo(buffer, received);
    received += c.getData().size();
    if (received < buffer.length) {
      return Optional.empty();
    }
    CRC32C check = new CRC32C();
    check.update(buffer);
    if ((int) check.getValue() != crc) {
      throw new WireFormatException("tensor " + name + ": CRC32C mismatch (corrupted in transit)");
    }
    WireTensor t = new WireTensor(name, dtype, shape, buffer);
    buffer = null;
    return Optional.of(t);
  }

  /** Call at the end of the stream: a half-received tensor is an error. */
  public void finish() {
    if (buffer != null) {
      throw new WireFormatException("stream ended inside tensor " + name + " (" + received + " of "
          + buffer.length + " bytes)");
    }
  }

  private void start(TensorChunk c) {
    if (c.getOffset() != 0) {
      throw new WireFormatException("tensor " + c.getName() + ": first chunk must start at offset 0, got "
          + c.getOffset());
    }
    long[] s = c.getShapeList().stream().mapToLong(Long::longValue).toArray();
    long expected;
    try {
      // Validates name, dtype and shape with an empty placeholder of the declared length.
      long count = 1;
      for (long d : s) {
        if (d <= 0) {
          throw new WireFormatException("tensor " + c.getName() + ": every dimension must be positive, got "
              + java.util.Arrays.toString(s));
        }
        count = Math.multiplyExact(count, d);
      }
      if (s.length == 0) {
        throw new WireFormatException("tensor " + c.getName() + ": shape must have at least one dimension");
      }
      expected = Math.multiplyExact(count, WireDType.fromProto(c.getDtype()).bytes());
    } catch (ArithmeticException e) {
      throw new WireFormatException("tensor " + c.getName() + ": shape overflows");
    }
    if (c.getName().isEmpty()) {
      throw new WireFormatException("tensor name must not be empty");
    }
    if (c.getTotalBytes() != expected) {
      throw new WireFormatException("tensor " + c.getName() + ": total_bytes " + c.getTotalBytes()
          + " does not match shape " + java.util.Arrays.toString(s) + " of " + c.getDtype() + " (" + expected
          + " bytes)");
    }
    if (expected > Integer.MAX_VALUE - 8) {
      throw new WireLimitException("tensor " + c.getName() + " of " + expected + " bytes exceeds 2 GiB");
    }
    if (expected > maxTotalBytes - declared) {
      throw new WireLimitException("tensor " + c.getName() + " of " + expected + " bytes takes the stream to "
          + (declared + expected) + " bytes, above its limit of " + maxTotalBytes + " bytes");
    }
    declared += expected;
    name = c.getName();
    dtype = WireDType.fromProto(c.getDtype());
    shape = s;
    crc = c.getCrc32C();
    buffer = new byte[(int) expected];
    received = 0;
  }
}
