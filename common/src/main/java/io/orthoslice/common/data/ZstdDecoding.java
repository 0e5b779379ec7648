package io.orthoslice.common.data;

import com.github.luben.zstd.ZstdInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Zstandard decompression through zstd-jni (whose jar carries the native library). The only class
 * that names the binding, so that training, which never reads a {@code .zst} file, never loads it.
 */
final class ZstdDecoding {

  private ZstdDecoding() {}

  /** The decompressed bytes of {@code raw}; every frame in turn, as the {@code zstd} tool does. */
  static InputStream open(InputStream raw) throws IOException {
    ZstdInputStream in = new ZstdInputStream(raw);
    // Accept frames compressed with --long (windows up to 2 GiB); the window is allocated only
    // when a frame asks for it. The default limit (128 MiB) rejects such files.
    in.setLongMax(31);
    return in;
  }
}
