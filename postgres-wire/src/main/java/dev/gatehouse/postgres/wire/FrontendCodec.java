package dev.gatehouse.postgres.wire;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Decodes frames sent by a client into {@link FrontendMessage}s and encodes them back, following
 * the PostgreSQL documentation, "Message Formats". Strings are NUL-terminated UTF-8 (Gatehouse
 * fixes client_encoding to UTF8) and are decoded strictly. Every count and length read from the
 * wire is checked against the bytes left in the body before anything is allocated for it, and a
 * body must end exactly after its last field.
 *
 * <p>Stateless and thread-safe. {@code 'p'} frames decode to {@link PasswordMessage}; see {@link
 * FrontendMessage} for why.
 */
public final class FrontendCodec {
  /** Longest user or database name accepted in a StartupMessage, in UTF-8 bytes. */
  public static final int MAX_NAME_BYTES = 63;

  private FrontendCodec() {}

  /**
   * Decodes one frame: a startup-phase packet when its type is {@link Frame#STARTUP}, a regular
   * message otherwise.
   *
   * @throws ProtocolException 08P01 for an unknown type, a malformed body or trailing bytes, or a
   *     StartupMessage with two parameter names equal ignoring case; 22021 for a string that is not
   *     UTF-8; 0A000 for a protocol version other than 3.x; 42602 for a user or database name
   *     longer than {@link #MAX_NAME_BYTES} bytes
   */
  /**
   * Whether {@code type} names a message a client may send once its session has started, as
   * PostgreSQL's own loop takes them (Query, Parse, Bind, Execute, FunctionCall, Close, Describe,
   * Flush, Sync, Terminate, CopyData, CopyDone, CopyFail). Any other type byte is a protocol
   * violation as soon as it is read, before its length or body: PostgreSQL answers it at once.
   */
  public static boolean isSessionMessageType(byte type) {
    return switch (type) {
      case Query.TYPE, Parse.TYPE, Bind.TYPE, Execute.TYPE, FunctionCall.TYPE, Close.TYPE, Describe.TYPE, Flush.TYPE,
          Sync.TYPE, Terminate.TYPE, CopyData.TYPE, CopyDone.TYPE, CopyFail.TYPE -> true;
      default -> false;
    };
  }

  public static FrontendMessage decode(Frame frame) {
    Objects.requireNonNull(frame, "frame == null");
    try {
      return frame.isStartup() ? decodeStartup(frame.body()) : decodeMessage(frame);
    } catch (IllegalArgumentException e) {
      // A record refused a decoded value; that is a malformed message, not a programming error.
      throw ProtocolException.violation("invalid " + Frame.typeName(frame.type()) + " message: "
          + e.getMessage());
    }
  }

  private static FrontendMessage decodeStartup(byte[] body) {
    var r = new BodyReader(body, "startup packet");
    int code = r.int32();
    switch (code) {
      case ProtocolVersion.SSL_REQUEST_CODE -> {
        r.expectEnd();
        return SSLRequest.INSTANCE;
      }
      case ProtocolVersion.GSSENC_REQUEST_CODE -> {
        r.expectEnd();
        return GSSENCRequest.INSTANCE;
      }
      case ProtocolVersion.CANCEL_REQUEST_CODE, ProtocolVersion.PEER_CANCEL_REQUEST_CODE -> {
        int processId = r.int32();
        int keyLength = r.remaining();
        if (keyLength < 4 || keyLength > CancelRequest.MAX_SECRET_KEY_LENGTH) {
          throw ProtocolException.violation(
              "CancelRequest: secret key length " + keyLength + " not in [4, 256]");
        }
        return new CancelRequest(processId, r.rest(), code == ProtocolVersion.PEER_CANCEL_REQUEST_CODE);
      }
      default -> {
        if (ProtocolVersion.major(code) != 3) {
          // The proxy answers any 3.x above 3.0 with NegotiateProtocolVersion 3.0.
          throw new ProtocolException(
              "0A000",
              "unsupported frontend protocol " + ProtocolVersion.major(code) + "."
                  + ProtocolVersion.minor(code) + ": Gatehouse supports protocol 3.0"
                  + " (3.1 and later 3.x versions are negotiated down to 3.0)");
        }
        var parameters = new LinkedHashMap<String, String>();
        var folded = new HashSet<String>();
        while (true) {
          String name = r.cstring();
          if (name.isEmpty()) {
            break;
          }
          String value = r.cstring();
          // A repeated name is refused: which copy wins would differ between readers.
          if (parameters.putIfAbsent(name, value) != null) {
            throw ProtocolException.violation("StartupMessage: parameter repeated");
          }
          // Names stay case-sensitive, as PostgreSQL matches them; but a reader that ignores case
          // would see "user" and "USER" as one name sent twice, so neither copy may win.
          for (String key : caseFolds(name)) {
            if (!folded.add(key)) {
              throw ProtocolException.violation(
                  "StartupMessage: two parameter names differ only in letter case");
            }
          }
          checkNameLength(name, value);
        }
        r.expectEnd();
        return new StartupMessage(code, parameters);
      }
    }
  }

  /**
   * The keys under which Java code could take two different names for one: per character, as
   * {@link String#equalsIgnoreCase} and {@link String#CASE_INSENSITIVE_ORDER} compare ("uſer" is
   * "USER"), and whole-string lower and upper case in {@link Locale#ROOT} ("ß" upper-cases to
   * "SS"). Tagged so that one name's keys never collide with each other.
   */
  private static List<String> caseFolds(String name) {
    var perCharacter = new StringBuilder(name.length() + 1).append('c');
    name.codePoints().forEach(
        c -> perCharacter.appendCodePoint(Character.toLowerCase(Character.toUpperCase(c))));
    return List.of(
        perCharacter.toString(), "l" + name.toLowerCase(Locale.ROOT), "u" + name.toUpperCase(Locale.ROOT));
  }

  /**
   * PostgreSQL cuts a user or database name to NAMEDATALEN - 1 bytes (ProcessStartupPacket);
   * Gatehouse refuses a longer one rather than audit a name no database would use. Matched
   * ignoring case so that no spelling carries a long name past this check.
   */
  private static void checkNameLength(String name, String value) {
    for (String limited : List.of("user", "database")) {
      if (name.equalsIgnoreCase(limited)) {
        int bytes = value.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
          throw new ProtocolException(ProtocolException.INVALID_NAME, "StartupMessage: " + limited
              + " name is " + bytes + " bytes long; Gatehouse accepts at most " + MAX_NAME_BYTES
              + " bytes (PostgreSQL's NAMEDATALEN - 1)");
        }
      }
    }
  }

  private static FrontendMessage decodeMessage(Frame frame) {
    byte[] body = frame.body();
    FrontendMessage m =
        switch (frame.type()) {
          case Query.TYPE -> {
            var r = new BodyReader(body, "Query");
            var q = new Query(r.cstring());
            r.expectEnd();
            yield q;
          }
          case Parse.TYPE -> {
            var r = new BodyReader(body, "Parse");
            String statement = r.cstring();
            String query = r.cstring();
            int[] types = r.int32s(r.uint16(), "parameter type");
            r.expectEnd();
            yield new Parse(statement, query, types);
          }
          case Bind.TYPE -> decodeBind(body);
          case Describe.TYPE -> {
            var r = new BodyReader(body, "Describe");
            byte kind = kind(r, "Describe");
            var d = new Describe(kind, r.cstring());
            r.expectEnd();
            yield d;
          }
          case Execute.TYPE -> {
            var r = new BodyReader(body, "Execute");
            var e = new Execute(r.cstring(), r.int32());
            r.expectEnd();
            yield e;
          }
          case Close.TYPE -> {
            var r = new BodyReader(body, "Close");
            byte kind = kind(r, "Close");
            var c = new Close(kind, r.cstring());
            r.expectEnd();
            yield c;
          }
          case Sync.TYPE -> empty(body, "Sync", Sync.INSTANCE);
          case Flush.TYPE -> empty(body, "Flush", Flush.INSTANCE);
          case Terminate.TYPE -> empty(body, "Terminate", Terminate.INSTANCE);
          case CopyDone.TYPE -> empty(body, "CopyDone", CopyDone.INSTANCE);
          case CopyData.TYPE -> new CopyData(body);
          case CopyFail.TYPE -> {
            var r = new BodyReader(body, "CopyFail");
            var f = new CopyFail(r.cstring());
            r.expectEnd();
            yield f;
          }
          case FunctionCall.TYPE -> decodeFunctionCall(body);
          case PasswordMessage.TYPE -> new PasswordMessage(body);
          default ->
              throw ProtocolException.violation(
                  "invalid frontend message type " + Frame.typeName(frame.type()));
        };
    return m;
  }

  private static Bind decodeBind(byte[] body) {
    var r = new BodyReader(body, "Bind");
    String portal = r.cstring();
    String statement = r.cstring();
    short[] formats = r.int16s(r.uint16(), "parameter format");
    int count = r.uint16();
    // PostgreSQL refuses the same (exec_bind_message): one format per parameter, or 0 or 1.
    if (formats.length > 1 && formats.length != count) {
      throw ProtocolException.violation(
          "Bind: " + formats.length + " parameter formats but " + count + " parameters");
    }
    List<byte[]> values = nullableValues(r, count, "parameter");
    short[] resultFormats = r.int16s(r.uint16(), "result format");
    r.expectEnd();
    return new Bind(portal, statement, formats, values, resultFormats);
  }

  private static FunctionCall decodeFunctionCall(byte[] body) {
    var r = new BodyReader(body, "FunctionCall");
    int oid = r.int32();
    short[] formats = r.int16s(r.uint16(), "argument format");
    int count = r.uint16();
    if (formats.length > 1 && formats.length != count) {
      throw ProtocolException.violation(
          "FunctionCall: " + formats.length + " argument formats but " + count + " arguments");
    }
    List<byte[]> values = nullableValues(r, count, "argument");
    short resultFormat = r.int16();
    r.expectEnd();
    return new FunctionCall(oid, formats, values, resultFormat);
  }

  private static List<byte[]> nullableValues(BodyReader r, int count, String what) {
    r.needElements(count, 4, what);
    var values = new ArrayList<byte[]>(count);
    for (int i = 0; i < count; i++) {
      values.add(r.nullableValue(what));
    }
    return values;
  }

  private static byte kind(BodyReader r, String message) {
    byte kind = r.int8();
    if (kind != 'S' && kind != 'P') {
      throw ProtocolException.violation(message + ": kind is not 'S' or 'P'");
    }
    return kind;
  }

  private static <T extends FrontendMessage> T empty(byte[] body, String name, T message) {
    new BodyReader(body, name).expectEnd();
    return message;
  }

  /** Encodes a message into a frame (a startup frame for the startup-phase messages). */
  public static Frame encode(FrontendMessage message) {
    var buffer = new WireBuffer(64);
    encode(message, buffer);
    byte[] a = buffer.array();
    boolean startup = isStartup(message);
    int bodyStart = startup ? 4 : 5;
    return new Frame(startup ? Frame.STARTUP : a[0], Arrays.copyOfRange(a, bodyStart, buffer.size()));
  }

  private static boolean isStartup(FrontendMessage message) {
    return message instanceof StartupMessage
        || message instanceof SSLRequest
        || message instanceof GSSENCRequest
        || message instanceof CancelRequest;
  }

  /** Appends the message, type byte and length included, to {@code buffer}. */
  static void encode(FrontendMessage message, WireBuffer b) {
    Objects.requireNonNull(message, "message == null");
    switch (message) {
      case StartupMessage m -> {
        int at = b.beginMessage(Frame.STARTUP);
        b.putInt32(m.protocolVersion());
        m.parameters().forEach((name, value) -> {
          b.putCString(name);
          b.putCString(value);
        });
        b.putByte(0);
        b.endMessage(at);
      }
      case SSLRequest m -> code(b, ProtocolVersion.SSL_REQUEST_CODE);
      case GSSENCRequest m -> code(b, ProtocolVersion.GSSENC_REQUEST_CODE);
      case CancelRequest m -> {
        int at = b.beginMessage(Frame.STARTUP);
        b.putInt32(m.relayed() ? ProtocolVersion.PEER_CANCEL_REQUEST_CODE : ProtocolVersion.CANCEL_REQUEST_CODE);
        b.putInt32(m.processId());
        b.putBytes(m.secretKey());
        b.endMessage(at);
      }
      case PasswordMessage m -> bytes(b, PasswordMessage.TYPE, m.data());
      case SASLInitialResponse m -> {
        int at = b.beginMessage(PasswordMessage.TYPE);
        b.putCString(m.mechanism());
        if (m.data().isPresent()) {
          b.putInt32(m.data().get().length);
          b.putBytes(m.data().get());
        } else {
          b.putInt32(-1);
        }
        b.endMessage(at);
      }
      case SASLResponse m -> bytes(b, PasswordMessage.TYPE, m.data());
      case Query m -> {
        int at = b.beginMessage(Query.TYPE);
        b.putCString(m.sql());
        b.endMessage(at);
      }
      case Parse m -> {
        int at = b.beginMessage(Parse.TYPE);
        b.putCString(m.statement());
        b.putCString(m.query());
        b.putInt16(m.parameterTypes().length);
        for (int t : m.parameterTypes()) {
          b.putInt32(t);
        }
        b.endMessage(at);
      }
      case Bind m -> {
        int at = b.beginMessage(Bind.TYPE);
        b.putCString(m.portal());
        b.putCString(m.statement());
        int16s(b, m.parameterFormats());
        nullableValues(b, m.parameters());
        int16s(b, m.resultFormats());
        b.endMessage(at);
      }
      case Describe m -> kindAndName(b, Describe.TYPE, m.kind(), m.name());
      case Execute m -> {
        int at = b.beginMessage(Execute.TYPE);
        b.putCString(m.portal());
        b.putInt32(m.maxRows());
        b.endMessage(at);
      }
      case Sync m -> empty(b, Sync.TYPE);
      case Flush m -> empty(b, Flush.TYPE);
      case Close m -> kindAndName(b, Close.TYPE, m.kind(), m.name());
      case CopyData m -> bytes(b, CopyData.TYPE, m.data());
      case CopyDone m -> empty(b, CopyDone.TYPE);
      case CopyFail m -> {
        int at = b.beginMessage(CopyFail.TYPE);
        b.putCString(m.message());
        b.endMessage(at);
      }
      case FunctionCall m -> {
        int at = b.beginMessage(FunctionCall.TYPE);
        b.putInt32(m.functionOid());
        int16s(b, m.argumentFormats());
        nullableValues(b, m.arguments());
        b.putInt16(m.resultFormat());
        b.endMessage(at);
      }
      case Terminate m -> empty(b, Terminate.TYPE);
    }
  }

  private static void code(WireBuffer b, int code) {
    b.putInt32(8);
    b.putInt32(code);
  }

  static void empty(WireBuffer b, byte type) {
    b.putByte(type);
    b.putInt32(4);
  }

  static void bytes(WireBuffer b, byte type, byte[] data) {
    int at = b.beginMessage(type);
    b.putBytes(data);
    b.endMessage(at);
  }

  private static void kindAndName(WireBuffer b, byte type, byte kind, String name) {
    int at = b.beginMessage(type);
    b.putByte(kind);
    b.putCString(name);
    b.endMessage(at);
  }

  static void int16s(WireBuffer b, short[] values) {
    b.putInt16(values.length);
    for (short v : values) {
      b.putInt16(v);
    }
  }

  static void nullableValues(WireBuffer b, List<byte[]> values) {
    b.putInt16(values.size());
    for (byte[] v : values) {
      if (v == null) {
        b.putInt32(-1);
      } else {
        b.putInt32(v.length);
        b.putBytes(v);
      }
    }
  }
}
