package dev.gatehouse.it;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import net.logstash.logback.encoder.LogstashEncoder;
import org.slf4j.LoggerFactory;

/**
 * Captures what the gateway logs, encoded exactly as production encodes it (one JSON object per
 * line, MDC and stack traces included), from every logger. The levels are those of the test's
 * logback configuration (logback-test.xml: {@code dev.gatehouse} at DEBUG, stricter than
 * production's INFO, so a secret in a debug line is caught too).
 *
 * <p>Attach before starting the gateway, {@link #close()} after. Thread-safe.
 */
final class LogCapture implements AutoCloseable {
  private final ByteArrayOutputStream sink = new ByteArrayOutputStream();
  private final OutputStreamAppender<ILoggingEvent> appender = new OutputStreamAppender<>();
  private final Logger root;

  private LogCapture() {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    LogstashEncoder encoder = new LogstashEncoder();
    encoder.setContext(context);
    encoder.start();
    appender.setName("it-capture-" + System.identityHashCode(this));
    appender.setContext(context);
    appender.setEncoder(encoder);
    appender.setImmediateFlush(true);
    appender.setOutputStream(new OutputStream() {
      @Override
      public void write(int b) {
        synchronized (sink) {
          sink.write(b);
        }
      }

      @Override
      public void write(byte[] b, int off, int len) {
        synchronized (sink) {
          sink.write(b, off, len);
        }
      }
    });
    appender.start();
    root.addAppender(appender);
  }

  static LogCapture attach() {
    return new LogCapture();
  }

  /** Everything logged since attaching. */
  String text() {
    synchronized (sink) {
      return sink.toString(StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() {
    root.detachAppender(appender);
    appender.stop();
  }
}
