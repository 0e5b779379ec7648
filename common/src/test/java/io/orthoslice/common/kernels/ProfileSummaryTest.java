package io.orthoslice.common.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ProfileSummaryTest {

  private static final String LINES = "cpu\t40\t9000\taten::matmul\n"
      + "gpu\t20\t3000\tampere_fp16_s16816gemm_fp16_128x128_ldg8_f2f_stages_32x5_nn\n"
      + "gpu\t60\t1000\tvectorized_elementwise_kernel<4, AddFunctor>\n"
      + "cpu\t60\t2000\taten::add\n"
      + "\n";

  @Test
  void perStepFiguresAndOrderComeFromTheLines() {
    ProfileSummary s = ProfileSummary.parse(LINES, 2);
    assertEquals(0.002, s.gpuSecondsPerStep(), 1e-12); // (3000 + 1000) us over 2 steps
    assertEquals(40.0, s.gpuEventsPerStep(), 1e-12);
    assertEquals("aten::matmul", s.cpu().get(0).name());
    String table = s.format(1);
    assertTrue(table.contains("gpu busy 0.0020 s/step, 40 gpu events/step"), table);
    assertTrue(table.contains("gpu        10.0    1.500  75.0%  ampere_fp16"), table);
    assertTrue(!table.contains("AddFunctor"), "top 1 keeps only the largest kernel: " + table);
  }

  @Test
  void aMalformedLineIsRefusedByName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ProfileSummary.parse("tpu\t1\t2\tx\n", 1));
    assertTrue(e.getMessage().contains("'tpu\t1\t2\tx'"), e.getMessage());
  }
}
