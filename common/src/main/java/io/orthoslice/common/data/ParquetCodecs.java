package io.orthoslice.common.data;

import com.github.luben.zstd.Zstd;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.xerial.snappy.Snappy;

/**
 * Parquet's page codecs straight from their libraries (snappy-java, zstd-jni, java.util.zip).
 * parquet-java's own {@code CodecFactory} goes through Hadoop's codec pool and {@code
 * Configuration}, which would need Guava, Woodstox and commons-collections on the class path; the
 * codecs Hugging Face's datasets use (Snappy, the pyarrow default, and ZSTD) need none of them.
 */
final class ParquetCodecs implements CompressionCodecFactory {

  static final String SUPPORTED = "UNCOMPRESSED, SNAPPY, ZSTD, GZIP";

  /** ZSTD's default level, as parquet-java and pyarrow write it. */
  private static final int ZSTD_LEVEL = 3;

  private final String file;

  ParquetCodecs(String file) {
    this.file = file;
  }

  @Override
  public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
    supported(codec);
    return new BytesInputDecompressor() {
      @Override
      public BytesInput decompress(BytesInput bytes, int uncompressedSize) throws IOException {
        return BytesInput.from(decompressPage(codec, bytes.toInputStream().readAllBytes(), uncompressedSize));
      }

      @Override
      public void decompress(
          ByteBuffer input, int compressedSize, ByteBuffer output, int uncompressedSize)
          throws IOException {
        byte[] in = new byte[compressedSize];
        input.duplicate().get(in);
        output.put(decompressPage(codec, in, uncompressedSize));
      }

      @Override
      public void release() {}
    };
  }

  @Override
  public BytesInputCompressor getCompressor(CompressionCodecName codec) {
    supported(codec);
    return new BytesInputCompressor() {
      @Override
      public BytesInput compress(BytesInput bytes) throws IOException {
        return BytesInput.from(ParquetCodecs.compress(codec, bytes.toInputStream().readAllBytes()));
      }

      @Override
      public CompressionCodecName getCodecName() {
        return codec;
      }

      @Override
      public void release() {}
    };
  }

  @Override
  public void release() {}

  private void supported(CompressionCodecName codec) {
    switch (codec) {
      case UNCOMPRESSED, SNAPPY, ZSTD, GZIP -> {}
      default ->
          throw new IllegalArgumentException(
              file + ": Parquet codec " + codec + " is not supported; supported: " + SUPPORTED);
    }
  }

  /** A page's bytes, or an IOException (the codecs' messages name no codec; zstd's is unchecked). */
  private byte[] decompressPage(CompressionCodecName codec, byte[] in, int uncompressedSize)
      throws IOException {
    try {
      return decompress(codec, in, uncompressedSize);
    } catch (IOException | RuntimeException e) {
      throw new IOException("cannot decompress a " + codec + " page (" + e.getMessage() + ")", e);
    }
  }

  static byte[] decompress(CompressionCodecName codec, byte[] in, int uncompressedSize)
      throws IOException {
    byte[] out =
        switch (codec) {
          case UNCOMPRESSED -> in;
          case SNAPPY -> Snappy.uncompress(in);
          case ZSTD -> Zstd.decompress(in, uncompressedSize);
          case GZIP -> {
            try (InputStream gz = new GZIPInputStream(new java.io.ByteArrayInputStream(in))) {
              yield gz.readAllBytes();
            }
          }
          default -> throw new IllegalStateException("unsupported codec " + codec);
        };
    if (out.length != uncompressedSize) {
      throw new IOException(
          codec + " page decompressed to " + out.length + " bytes, expected " + uncompressedSize);
    }
    return out;
  }

  static byte[] compress(CompressionCodecName codec, byte[] in) throws IOException {
    return switch (codec) {
      case UNCOMPRESSED -> in;
      case SNAPPY -> Snappy.compress(in);
      case ZSTD -> Zstd.compress(in, ZSTD_LEVEL);
      case GZIP -> {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(buf)) {
          gz.write(in);
        }
        yield buf.toByteArray();
      }
      default -> throw new IllegalStateException("unsupported codec " + codec);
    };
  }
}
