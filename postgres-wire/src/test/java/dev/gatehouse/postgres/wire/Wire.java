package dev.gatehouse.postgres.wire;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** Test vectors and ways of feeding them to a reader. */
final class Wire {
  private Wire() {}

  /** Bytes from hex, with spaces and line breaks ignored; {@code "'text'"} spans insert ASCII. */
  static byte[] hex(String spec) {
    var out = new ByteArrayOutputStream();
    int i = 0;
    while (i < spec.length()) {
      char c = spec.charAt(i);
      if (Character.isWhitespace(c)) {
        i++;
      } else if (c == '\'') {
        int end = spec.indexOf('\'', i + 1);
        out.writeBytes(spec.substring(i + 1, end).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        i = end + 1;
      } else {
        out.writeBytes(HexFormat.of().parseHex(spec.substring(i, i + 2)));
        i += 2;
      }
    }
    return out.toByteArray();
  }

  /** How bytes reach the reader: all at once, or one byte per read call as a slow peer sends. */
  enum Feed {
    WHOLE,
    BYTE_BY_BYTE;

    InputStream open(byte[] bytes) {
      InputStream in = new ByteArrayInputStream(bytes);
      return this == WHOLE ? in : new OneByteAtATime(in);
    }
  }

  /** Returns at most one byte per read, whatever the caller asks for. */
  static final class OneByteAtATime extends FilterInputStream {
    OneByteAtATime(InputStream in) {
      super(in);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return len == 0 ? 0 : super.read(b, off, 1);
    }

    @Override
    public int available() {
      return 0;
    }
  }

  /** All regular frames in a stream, read with a generous maximum. */
  static List<Frame> frames(byte[] bytes, Feed feed) {
    try {
      var reader = new FrameReader(feed.open(bytes));
      var frames = new ArrayList<Frame>();
      for (var f = reader.read(1 << 20); f.isPresent(); f = reader.read(1 << 20)) {
        frames.add(f.get());
      }
      return frames;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] written(Iterable<?> messages) {
    try {
      var out = new ByteArrayOutputStream();
      var writer = new MessageWriter(out);
      for (Object m : messages) {
        switch (m) {
          case FrontendMessage f -> writer.write(f);
          case BackendMessage b -> writer.write(b);
          case Frame f -> writer.write(f);
          default -> throw new IllegalArgumentException(m.toString());
        }
      }
      writer.flush();
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
