package io.orthoslice.common.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes BF16 safetensors files by hand, as Hugging Face exports them; our writer never emits BF16. */
final class Bf16Files {

  private Bf16Files() {}

  /** Each value must be bf16-representable (low 16 bits zero); they are stored as the high half. */
  static void write(Path file, Map<String, float[]> tensors, Map<String, long[]> shapes) throws IOException {
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("__metadata__", Map.of("format", "pt"));
    long offset = 0;
    for (Map.Entry<String, float[]> e : tensors.entrySet()) {
      long end = offset + 2L * e.getValue().length;
      header.put(e.getKey(), Map.of("dtype", "BF16", "shape", shapes.get(e.getKey()), "data_offsets", List.of(offset, end)));
      offset = end;
    }
    byte[] h = new ObjectMapper().writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate((int) (8 + h.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    for (float[] v : tensors.values()) {
      for (float f : v) {
        b.putShort((short) (Float.floatToRawIntBits(f) >>> 16));
      }
    }
    Files.write(file, b.array());
  }
}
