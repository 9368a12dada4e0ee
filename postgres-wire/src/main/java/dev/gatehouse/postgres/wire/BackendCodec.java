package dev.gatehouse.postgres.wire;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Decodes frames sent by a server into {@link BackendMessage}s and encodes them back, following
 * the PostgreSQL documentation, "Message Formats". The same bounds rules as {@link FrontendCodec}
 * apply: a hostile or broken server gets the same scrutiny as a client. {@link DataRow} is only
 * checked for structure; its values are read on demand.
 *
 * <p>Stateless and thread-safe.
 */
public final class BackendCodec {
  private BackendCodec() {}

  /**
   * Decodes one frame.
   *
   * @throws ProtocolException 08P01 for an unknown type or authentication code, a malformed body
   *     or trailing bytes; 22021 for a string that is not UTF-8
   */
  public static BackendMessage decode(Frame frame) {
    Objects.requireNonNull(frame, "frame == null");
    try {
      return decodeMessage(frame.type(), frame.body());
    } catch (IllegalArgumentException e) {
      // A record refused a decoded value; that is a malformed message, not a programming error.
      throw ProtocolException.violation(
          "invalid " + Frame.typeName(frame.type()) + " message: " + e.getMessage());
    }
  }

  private static BackendMessage decodeMessage(byte type, byte[] body) {
    return switch (type) {
      case Authentication.TYPE -> decodeAuthentication(body);
      case BackendKeyData.TYPE -> {
        var r = new BodyReader(body, "BackendKeyData");
        int processId = r.int32();
        int keyLength = r.remaining();
        if (keyLength < 4 || keyLength > CancelRequest.MAX_SECRET_KEY_LENGTH) {
          throw ProtocolException.violation(
              "BackendKeyData: secret key length " + keyLength + " not in [4, 256]");
        }
        yield new BackendKeyData(processId, r.rest());
      }
      case ParameterStatus.TYPE -> {
        var r = new BodyReader(body, "ParameterStatus");
        var p = new ParameterStatus(r.cstring(), r.cstring());
        r.expectEnd();
        yield p;
      }
      case ReadyForQuery.TYPE -> {
        var r = new BodyReader(body, "ReadyForQuery");
        byte status = r.int8();
        r.expectEnd();
        if (status != ReadyForQuery.IDLE
            && status != ReadyForQuery.IN_TRANSACTION
            && status != ReadyForQuery.FAILED_TRANSACTION) {
          throw ProtocolException.violation("ReadyForQuery: status is not 'I', 'T' or 'E'");
        }
        yield new ReadyForQuery(status);
      }
      case RowDescription.TYPE -> decodeRowDescription(body);
      case DataRow.TYPE -> DataRow.wrap(body);
      case CommandComplete.TYPE -> {
        var r = new BodyReader(body, "CommandComplete");
        var c = new CommandComplete(r.cstring());
        r.expectEnd();
        yield c;
      }
      case EmptyQueryResponse.TYPE -> empty(body, "EmptyQueryResponse", EmptyQueryResponse.INSTANCE);
      case ErrorResponse.TYPE -> new ErrorResponse(fields(body, "ErrorResponse"));
      case NoticeResponse.TYPE -> new NoticeResponse(fields(body, "NoticeResponse"));
      case ParseComplete.TYPE -> empty(body, "ParseComplete", ParseComplete.INSTANCE);
      case BindComplete.TYPE -> empty(body, "BindComplete", BindComplete.INSTANCE);
      case CloseComplete.TYPE -> empty(body, "CloseComplete", CloseComplete.INSTANCE);
      case NoData.TYPE -> empty(body, "NoData", NoData.INSTANCE);
      case PortalSuspended.TYPE -> empty(body, "PortalSuspended", PortalSuspended.INSTANCE);
      case ParameterDescription.TYPE -> {
        var r = new BodyReader(body, "ParameterDescription");
        int[] types = r.int32s(r.uint16(), "parameter type");
        r.expectEnd();
        yield new ParameterDescription(types);
      }
      case CopyInResponse.TYPE -> CopyResponses.decode(body, "CopyInResponse", CopyInResponse::new);
      case CopyOutResponse.TYPE -> CopyResponses.decode(body, "CopyOutResponse", CopyOutResponse::new);
      case CopyBothResponse.TYPE -> CopyResponses.decode(body, "CopyBothResponse", CopyBothResponse::new);
      case CopyData.TYPE -> new CopyData(body);
      case CopyDone.TYPE -> empty(body, "CopyDone", CopyDone.INSTANCE);
      case NotificationResponse.TYPE -> {
        var r = new BodyReader(body, "NotificationResponse");
        var n = new NotificationResponse(r.int32(), r.cstring(), r.cstring());
        r.expectEnd();
        yield n;
      }
      case NegotiateProtocolVersion.TYPE -> {
        var r = new BodyReader(body, "NegotiateProtocolVersion");
        int newestMinor = r.int32();
        int count = r.int32();
        // Each option is at least its terminator.
        r.needElements(count, 1, "option");
        var options = new ArrayList<String>(count);
        for (int i = 0; i < count; i++) {
          options.add(r.cstring());
        }
        r.expectEnd();
        yield new NegotiateProtocolVersion(newestMinor, options);
      }
      case FunctionCallResponse.TYPE -> {
        var r = new BodyReader(body, "FunctionCallResponse");
        var f = new FunctionCallResponse(r.nullableBytes32());
        r.expectEnd();
        yield f;
      }
      default ->
          throw ProtocolException.violation(
              "invalid backend message type " + Frame.typeName(type));
    };
  }

  private static Authentication decodeAuthentication(byte[] body) {
    var r = new BodyReader(body, "Authentication");
    int code = r.int32();
    Authentication a =
        switch (code) {
          case Authentication.OK -> AuthenticationOk.INSTANCE;
          case Authentication.CLEARTEXT_PASSWORD -> AuthenticationCleartextPassword.INSTANCE;
          case Authentication.MD5_PASSWORD -> new AuthenticationMD5Password(r.bytes(4));
          case Authentication.SASL -> {
            var mechanisms = new ArrayList<String>();
            while (true) {
              String m = r.cstring();
              if (m.isEmpty()) {
                break;
              }
              mechanisms.add(m);
            }
            yield new AuthenticationSASL(mechanisms);
          }
          case Authentication.SASL_CONTINUE -> new AuthenticationSASLContinue(r.rest());
          case Authentication.SASL_FINAL -> new AuthenticationSASLFinal(r.rest());
          case Authentication.KERBEROS_V5, Authentication.GSS, Authentication.SSPI ->
              new AuthenticationUnsupported(code);
          case Authentication.GSS_CONTINUE -> {
            r.rest(); // GSSAPI data: kept nowhere, the exchange will be refused.
            yield new AuthenticationUnsupported(code);
          }
          default ->
              throw ProtocolException.violation(
                  "Authentication: unknown request code " + code);
        };
    r.expectEnd();
    return a;
  }

  private static RowDescription decodeRowDescription(byte[] body) {
    var r = new BodyReader(body, "RowDescription");
    int count = r.uint16();
    // Smallest field: an empty name (its NUL) and 18 bytes of fixed-size attributes.
    r.needElements(count, 19, "field");
    var fields = new ArrayList<RowDescription.Field>(count);
    for (int i = 0; i < count; i++) {
      fields.add(
          new RowDescription.Field(
              r.cstring(), r.int32(), r.int16(), r.int32(), r.int16(), r.int32(), r.int16()));
    }
    r.expectEnd();
    return new RowDescription(fields);
  }

  private static List<ErrorField> fields(byte[] body, String message) {
    var r = new BodyReader(body, message);
    var fields = new ArrayList<ErrorField>();
    while (true) {
      byte code = r.int8();
      if (code == 0) {
        break;
      }
      fields.add(new ErrorField(code, r.cstring()));
    }
    r.expectEnd();
    return fields;
  }

  private static <T extends BackendMessage> T empty(byte[] body, String name, T message) {
    new BodyReader(body, name).expectEnd();
    return message;
  }

  /** Encodes a message into a frame. */
  public static Frame encode(BackendMessage message) {
    if (message instanceof DataRow row) {
      return new Frame(DataRow.TYPE, row.body());
    }
    var buffer = new WireBuffer(64);
    encode(message, buffer);
    byte[] a = buffer.array();
    return new Frame(a[0], Arrays.copyOfRange(a, 5, buffer.size()));
  }

  /** Appends the message, type byte and length included, to {@code buffer}. */
  static void encode(BackendMessage message, WireBuffer b) {
    Objects.requireNonNull(message, "message == null");
    switch (message) {
      case Authentication m -> {
        int at = b.beginMessage(Authentication.TYPE);
        b.putInt32(m.code());
        switch (m) {
          case AuthenticationMD5Password p -> b.putBytes(p.salt());
          case AuthenticationSASL s -> {
            s.mechanisms().forEach(b::putCString);
            b.putByte(0);
          }
          case AuthenticationSASLContinue c -> b.putBytes(c.data());
          case AuthenticationSASLFinal f -> b.putBytes(f.data());
          case AuthenticationOk o -> {}
          case AuthenticationCleartextPassword c -> {}
          case AuthenticationUnsupported u -> {}
        }
        b.endMessage(at);
      }
      case BackendKeyData m -> {
        int at = b.beginMessage(BackendKeyData.TYPE);
        b.putInt32(m.processId());
        b.putBytes(m.secretKey());
        b.endMessage(at);
      }
      case ParameterStatus m -> {
        int at = b.beginMessage(ParameterStatus.TYPE);
        b.putCString(m.name());
        b.putCString(m.value());
        b.endMessage(at);
      }
      case ReadyForQuery m -> {
        b.putByte(ReadyForQuery.TYPE);
        b.putInt32(5);
        b.putByte(m.status());
      }
      case RowDescription m -> {
        int at = b.beginMessage(RowDescription.TYPE);
        b.putInt16(m.fields().size());
        for (RowDescription.Field f : m.fields()) {
          b.putCString(f.name());
          b.putInt32(f.tableOid());
          b.putInt16(f.columnAttribute());
          b.putInt32(f.typeOid());
          b.putInt16(f.typeSize());
          b.putInt32(f.typeModifier());
          b.putInt16(f.format());
        }
        b.endMessage(at);
      }
      case DataRow m -> FrontendCodec.bytes(b, DataRow.TYPE, m.body());
      case CommandComplete m -> {
        int at = b.beginMessage(CommandComplete.TYPE);
        b.putCString(m.tag());
        b.endMessage(at);
      }
      case EmptyQueryResponse m -> FrontendCodec.empty(b, EmptyQueryResponse.TYPE);
      case ErrorResponse m -> fields(b, ErrorResponse.TYPE, m.fields());
      case NoticeResponse m -> fields(b, NoticeResponse.TYPE, m.fields());
      case ParseComplete m -> FrontendCodec.empty(b, ParseComplete.TYPE);
      case BindComplete m -> FrontendCodec.empty(b, BindComplete.TYPE);
      case CloseComplete m -> FrontendCodec.empty(b, CloseComplete.TYPE);
      case NoData m -> FrontendCodec.empty(b, NoData.TYPE);
      case PortalSuspended m -> FrontendCodec.empty(b, PortalSuspended.TYPE);
      case ParameterDescription m -> {
        int at = b.beginMessage(ParameterDescription.TYPE);
        b.putInt16(m.types().length);
        for (int t : m.types()) {
          b.putInt32(t);
        }
        b.endMessage(at);
      }
      case CopyInResponse m -> copyResponse(b, CopyInResponse.TYPE, m.format(), m.columnFormats());
      case CopyOutResponse m ->
          copyResponse(b, CopyOutResponse.TYPE, m.format(), m.columnFormats());
      case CopyBothResponse m ->
          copyResponse(b, CopyBothResponse.TYPE, m.format(), m.columnFormats());
      case CopyData m -> FrontendCodec.bytes(b, CopyData.TYPE, m.data());
      case CopyDone m -> FrontendCodec.empty(b, CopyDone.TYPE);
      case NotificationResponse m -> {
        int at = b.beginMessage(NotificationResponse.TYPE);
        b.putInt32(m.processId());
        b.putCString(m.channel());
        b.putCString(m.payload());
        b.endMessage(at);
      }
      case NegotiateProtocolVersion m -> {
        int at = b.beginMessage(NegotiateProtocolVersion.TYPE);
        b.putInt32(m.newestMinor());
        b.putInt32(m.unrecognizedOptions().size());
        m.unrecognizedOptions().forEach(b::putCString);
        b.endMessage(at);
      }
      case FunctionCallResponse m -> {
        int at = b.beginMessage(FunctionCallResponse.TYPE);
        if (m.value().isPresent()) {
          b.putInt32(m.value().get().length);
          b.putBytes(m.value().get());
        } else {
          b.putInt32(-1);
        }
        b.endMessage(at);
      }
    }
  }

  private static void fields(WireBuffer b, byte type, List<ErrorField> fields) {
    int at = b.beginMessage(type);
    for (ErrorField f : fields) {
      b.putByte(f.code());
      b.putCString(f.value());
    }
    b.putByte(0);
    b.endMessage(at);
  }

  private static void copyResponse(WireBuffer b, byte type, byte format, short[] columnFormats) {
    int at = b.beginMessage(type);
    b.putByte(format);
    FrontendCodec.int16s(b, columnFormats);
    b.endMessage(at);
  }
}
