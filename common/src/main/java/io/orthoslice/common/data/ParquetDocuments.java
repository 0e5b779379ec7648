package io.orthoslice.common.data;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.List;
import java.util.function.LongConsumer;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnReader;
import org.apache.parquet.column.impl.ColumnReadStoreImpl;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.ParquetDecodingException;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;

/**
 * The documents of a Parquet file: one string column, read one row group at a time through the
 * Java Parquet reader (parquet-java), so memory holds one row group's column chunk, never the file.
 * The only class that names Parquet, so that training never loads it.
 */
final class ParquetDocuments {

  private ParquetDocuments() {}

  /**
   * Feeds the non-null values of top-level string column {@code field} to {@code sink}, in row
   * order; reports the compressed bytes of each row group to {@code bytesRead} as its rows are
   * done, and the rest of the file (footer, page indexes) at the end. Memory holds one row group's
   * chunk of that column at a time.
   */
  static void read(
      CorpusSource source, String field, DocumentReader.DocumentSink sink, LongConsumer bytesRead)
      throws IOException {
    ParquetReadOptions options =
        ParquetReadOptions.builder(new PlainParquetConfiguration())
            .withCodecFactory(new ParquetCodecs(source.name()))
            .build();
    try (ParquetFileReader reader = open(source, options)) {
      MessageType schema = reader.getFooter().getFileMetaData().getSchema();
      ColumnDescriptor column = stringColumn(source, schema, field);
      MessageType projection = new MessageType(schema.getName(), schema.getType(field));
      reader.setRequestedSchema(projection);
      String createdBy = reader.getFooter().getFileMetaData().getCreatedBy();
      List<BlockMetaData> rowGroups = reader.getRowGroups();
      long reported = 0;
      for (BlockMetaData rowGroup : rowGroups) {
        try (PageReadStore pages = reader.readNextRowGroup()) {
          readRowGroup(
              pages, projection, column, createdBy, rowGroup.getCompressedSize(), sink, bytesRead);
        } catch (ParquetDecodingException e) {
          throw new IllegalArgumentException(
              source.name() + ": corrupt Parquet data (" + e.getMessage() + ")");
        } catch (FileSystemException e) {
          throw e;
        } catch (IOException e) {
          // A bad page header or page: parquet-java's and the codecs' messages name no file.
          throw new IOException(source.name() + ": " + e.getMessage(), e);
        }
        reported += rowGroup.getCompressedSize();
      }
      // The footer and page headers: the bar ends at the file's size.
      bytesRead.accept(Math.max(0, source.size() - reported));
    }
  }

  /** One row group's documents; its compressed bytes go to the bar as its rows are done. */
  private static void readRowGroup(
      PageReadStore pages,
      MessageType projection,
      ColumnDescriptor column,
      String createdBy,
      long groupBytes,
      DocumentReader.DocumentSink sink,
      LongConsumer bytesRead)
      throws IOException {
    ColumnReader values =
        new ColumnReadStoreImpl(
                pages, new GroupRecordConverter(projection).getRootConverter(), projection, createdBy)
            .getColumnReader(column);
    int defined = column.getMaxDefinitionLevel();
    long total = pages.getRowCount(); // one value per row: the column is neither nested nor repeated
    long reported = 0;
    for (long i = 0; i < total; i++) {
      // A lower definition level is a null: a row without a document.
      if (values.getCurrentDefinitionLevel() == defined) {
        String document = values.getBinary().toStringUsingUTF8();
        if (!document.isBlank()) {
          sink.accept(document);
        }
      }
      values.consume();
      if ((i & 1023) == 1023) {
        long due = groupBytes * (i + 1) / total;
        bytesRead.accept(due - reported);
        reported = due;
      }
    }
    bytesRead.accept(groupBytes - reported);
  }

  private static ParquetFileReader open(CorpusSource source, ParquetReadOptions options)
      throws IOException {
    try {
      return ParquetFileReader.open(new LocalInputFile(source.file()), options);
    } catch (RuntimeException e) {
      // parquet-java reports a file without the PAR1 magic or with a bad footer so.
      throw new IllegalArgumentException(
          source.name() + ": not a readable Parquet file (" + e.getMessage() + ")");
    }
  }

  private static ColumnDescriptor stringColumn(
      CorpusSource source, MessageType schema, String field) {
    if (!schema.containsField(field)) {
      throw new IllegalArgumentException(
          source.name()
              + ": no column \""
              + field
              + "\"; its columns are "
              + schema.getFields().stream().map(Type::getName).toList()
              + "; choose one with --text-field");
    }
    Type type = schema.getType(field);
    boolean string =
        type.isPrimitive()
            && !type.isRepetition(Type.Repetition.REPEATED)
            && type.asPrimitiveType().getPrimitiveTypeName() == PrimitiveTypeName.BINARY
            && (type.getLogicalTypeAnnotation() == null
                || type.getLogicalTypeAnnotation() instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation);
    if (!string) {
      throw new IllegalArgumentException(
          source.name()
              + ": column \""
              + field
              + "\" is not a string column ("
              + type.toString().strip()
              + "); choose one with --text-field");
    }
    return schema.getColumnDescription(new String[] {field});
  }
}
