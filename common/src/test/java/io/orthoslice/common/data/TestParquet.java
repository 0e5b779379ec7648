package io.orthoslice.common.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalOutputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Small Parquet files written in tests with parquet-java's own writer, laid out as Hugging Face's
 * text datasets are: an optional string column per field beside an id.
 */
final class TestParquet {

  private TestParquet() {}

  /**
   * Writes one row per document: {@code id} (int64) and {@code column} (optional string; a null
   * document writes a row without it). A row group holds at most {@code rowsPerGroup} rows, in
   * pages of at most 8 rows.
   */
  static Path write(
      Path file, String column, List<String> docs, CompressionCodecName codec, int rowsPerGroup)
      throws IOException {
    MessageType schema =
        MessageTypeParser.parseMessageType(
            "message document { required int64 id; optional binary "
                + column
                + " (STRING); }");
    SimpleGroupFactory rows = new SimpleGroupFactory(schema);
    try (ParquetWriter<Group> writer =
        ExampleParquetWriter.builder(new LocalOutputFile(file))
            .withConf(new PlainParquetConfiguration())
            .withType(schema)
            .withCompressionCodec(codec)
            .withCodecFactory(new ParquetCodecs(file.toString()))
            .withRowGroupRowCountLimit(rowsPerGroup)
            .withPageRowCountLimit(8)
            .build()) {
      for (int i = 0; i < docs.size(); i++) {
        Group row = rows.newGroup().append("id", (long) i);
        if (docs.get(i) != null) {
          row.append(column, docs.get(i));
        }
        writer.write(row);
      }
    }
    return file;
  }

  static Path write(Path file, List<String> docs) throws IOException {
    return write(file, "text", docs, CompressionCodecName.SNAPPY, 1000);
  }
}
