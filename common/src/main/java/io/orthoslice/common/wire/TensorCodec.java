package io.orthoslice.common.wire;

import com.google.protobuf.ByteString;
import io.orthoslice.proto.TensorChunk;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Cuts a tensor into {@link TensorChunk}s of at most {@link #MAX_CHUNK_BYTES} data bytes, so that no
 * gRPC message nears the 4 MiB default limit whatever the model size. The first chunk carries dtype,
 * shape, total length and the CRC32C of the whole tensor; {@link TensorAssembler} checks them all.
 */
public final class TensorCodec {

  /** The wire-format version written and the only one accepted. */
  public static final int VERSION = 1;

  /** 1 MiB of data per chunk: a quarter of gRPC's default inbound limit, with room for headers. */
  public static final int MAX_CHUNK_BYTES = 1 << 20;

  private TensorCodec() {}

  /** Sends {@code t} to {@code sink} as one or more chunks; returns the data bytes sent. */
  public static long encode(WireTensor t, Consumer<TensorChunk> sink) {
    return encode(t, MAX_CHUNK_BYTES, sink);
  }

  static long encode(WireTensor t, int chunkBytes, Consumer<TensorChunk> sink) {
    byte[] data = t.data();
    CRC32C crc = new CRC32C();
    crc.update(data);
    int offset = 0;
    do {
      int len = Math.min(chunkBytes, data.length - offset);
      TensorChunk.Builder b = TensorChunk.newBuilder()
          .setVersion(VERSION)
          .setName(t.name())
          .setOffset(offset)
          .setData(ByteString.copyFrom(data, offset, len));
      if (offset == 0) {
        b.setDtype(t.dtype().toProto()).setTotalBytes(data.length).setCrc32C((int) crc.getValue());
        for (long d : t.shape()) {
          b.addShape(d);
        }
      }
      sink.accept(b.build());
      offset += len;
    } while (offset < data.length);
    return data.length;
  }
}
