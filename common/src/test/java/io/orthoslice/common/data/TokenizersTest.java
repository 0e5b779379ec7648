package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {

  /**
   * Test vocabulary: 36 entries, <unk>=0, <s>=1, </s>=2, the=3, cat=5, sat=7, on=8, mat=9, "."=32.
   */
  static Path testTokenizer() throws Exception {
    return Path.of(
        TokenizersTest.class.getClassLoader().getResource("data/tokenizer.json").toURI());
  }

  @Test
  void byteTokenizerEncodesUtf8BytesAsIds() {
    ByteTokenizer tok = new ByteTokenizer();
    assertArrayEquals(new int[] {'h', 'i', 0xC3, 0xA9}, tok.encode("hié"));
    assertEquals(257, tok.vocabSize());
    assertEquals(256, tok.eosId());
    assertEquals(256, tok.bosId());
    assertEquals("byte", tok.id());
  }

  @Test
  void byteTokenizerRoundTripsAsciiMultilingualAndEmoji() {
    ByteTokenizer tok = new ByteTokenizer();
    for (String text :
        new String[] {
          "Hello, world!\ttabs and\nnewlines",
          "Grüße aus Köln, señor; Ελλάδα; Москва; 日本語のテキスト; عربي",
          "emoji 👍🏽 and family 👨‍👩‍👧 and flag 🇪🇺",
          ""
        }) {
      assertEquals(text, tok.decode(tok.encode(text)));
    }
  }

  @Test
  void byteTokenizerDecodesEndOfTextBetweenMultiByteCharacters() {
    ByteTokenizer tok = new ByteTokenizer();
    int[] a = tok.encode("é");
    int[] b = tok.encode("日");
    int[] ids = new int[a.length + 1 + b.length];
    System.arraycopy(a, 0, ids, 0, a.length);
    ids[a.length] = 256;
    System.arraycopy(b, 0, ids, a.length + 1, b.length);
    assertEquals("é<|endoftext|>日", tok.decode(ids));
  }

  @Test
  void byteTokenizerRejectsIdsOutsideItsVocabulary() {
    var e =
        assertThrows(
            IllegalArgumentException.class, () -> new ByteTokenizer().decode(new int[] {257}));
    assertEquals("byte token id 257 is out of range [0, 256]", e.getMessage());
  }

  @Test
  void loadByteSpecGivesByteTokenizer() {
    assertInstanceOf(ByteTokenizer.class, Tokenizers.load("byte"));
  }

  @Test
  void loadRejectsUnknownSpecNamingWhatIsAllowed(@TempDir Path dir) {
    for (String spec :
        new String[] {"bytes", dir.toString(), dir.resolve("nope.json").toString(), ""}) {
      var e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.load(spec));
      assertTrue(e.getMessage().endsWith("allowed: " + Tokenizers.ALLOWED), e.getMessage());
    }
  }

  @Test
  void huggingFaceTokenizerRoundTripsAndFindsSpecialTokens() throws Exception {
    Path file = testTokenizer();
    byte[] json = Files.readAllBytes(file);
    String expectedId =
        "hf-"
            + HexFormat.of()
                .formatHex(MessageDigest.getInstance("SHA-256").digest(json))
                .substring(0, 12);
    try (HuggingFaceTokenizerFile tok =
        (HuggingFaceTokenizerFile) Tokenizers.load(file.toString())) {
      String text = "the cat sat on the mat .";
      int[] ids = tok.encode(text);
      assertArrayEquals(new int[] {3, 5, 7, 8, 3, 9, 32}, ids);
      assertEquals(text, tok.decode(ids));
      assertEquals(36, tok.vocabSize());
      assertEquals(2, tok.eosId());
      assertEquals(1, tok.bosId());
      assertEquals(expectedId, tok.id());
    }
  }

  @Test
  void huggingFaceTokenizerNeitherAddsSpecialTokensNorTruncates() throws Exception {
    String directory = testTokenizer().getParent().toString();
    try (HuggingFaceTokenizerFile tok = (HuggingFaceTokenizerFile) Tokenizers.load(directory)) {
      String[] words = new String[2000];
      Arrays.fill(words, "dog");
      int[] ids = tok.encode(String.join(" ", words));
      assertEquals(2000, ids.length);
      assertTrue(Arrays.stream(ids).allMatch(id -> id == 6));
    }
  }

  @Test
  void huggingFaceTokenizerWithoutEndOfTextIsRejected(@TempDir Path dir) throws Exception {
    String json =
        Files.readString(testTokenizer(), StandardCharsets.UTF_8).replace("\"</s>\"", "\"[SEP]\"");
    Path file = Files.writeString(dir.resolve("tokenizer.json"), json);
    var e = assertThrows(IllegalArgumentException.class, () -> HuggingFaceTokenizerFile.load(file));
    assertEquals(
        "tokenizer "
            + file
            + " has no end-of-text token; expected one of "
            + HuggingFaceTokenizerFile.EOS_CANDIDATES,
        e.getMessage());
  }
}
