package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** GPT-2's and cl100k's BPE against reference ids (OpenAI's tiktoken), and what the pipeline needs of them. */
class TiktokenTokenizerTest {

  @Test
  void gpt2EncodesAsTiktokenDoes() {
    Tokenizer t = Tokenizers.load("gpt2");
    assertArrayEquals(new int[] {15496, 995}, t.encode("Hello world"));
    assertEquals(50_257, t.vocabSize());
    assertEquals(50_256, t.eosId());
    assertEquals("gpt2", t.id());
    String text = "The coordinator merges the slices, round after round — über alles?";
    int[] ids = t.encode(text);
    assertEquals(text, t.decode(ids));
    for (int id : ids) {
      assertTrue(id >= 0 && id < t.vocabSize(), "id " + id);
    }
  }

  @Test
  void theEndOfTextMarkerIsOursAndNeverComesFromText() {
    Tokenizer t = Tokenizers.load("gpt2");
    int[] literal = t.encode("<|endoftext|>");
    assertTrue(literal.length > 1, "a literal marker in a document is text");
    int[] doc = {15496, t.eosId(), 995};
    assertEquals("Hello<|endoftext|> world", t.decode(doc));
  }

  @Test
  void cl100kEncodesAsTiktokenDoes() {
    Tokenizer t = Tokenizers.load("cl100k");
    assertArrayEquals(new int[] {15339, 1917}, t.encode("hello world"));
    assertEquals(100_257, t.eosId());
    assertEquals(100_277, t.vocabSize());
  }
}
