#include "sqlproxy/protocol/codecs.h"

#include <algorithm>

#include "sqlproxy/protocol/wire.h"

// Every field read can fail; this keeps each parser a readable list of fields in wire order.
// `var` is a name being declared, so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SQLP_TRY(var, expr)             \
  auto var##_r = (expr);                \
  if (!var##_r) return var##_r.error(); \
  auto var = *var##_r
// NOLINTEND(bugprone-macro-parentheses)

namespace sqlproxy::protocol {

namespace {
constexpr std::uint8_t kOkHeader = 0x00;
constexpr std::uint8_t kEofHeader = 0xFE;
constexpr std::uint8_t kErrHeader = 0xFF;
constexpr std::uint8_t kLocalInfileHeader = 0xFB;
constexpr std::size_t kScramblePart1 = 8;
constexpr std::size_t kReservedSize = 10;
constexpr std::size_t kResponseFiller = 19;  // then 4 bytes of MariaDB capabilities
constexpr std::size_t kSqlStateSize = 5;

std::uint8_t first_byte(std::string_view payload) { return static_cast<std::uint8_t>(payload[0]); }

std::size_t part2_size(std::uint8_t auth_plugin_data_len) {
  return std::max<std::size_t>(
      13, auth_plugin_data_len > kScramblePart1 ? auth_plugin_data_len - kScramblePart1 : 0);
}
}  // namespace

Result<HandshakeV10> parse_handshake_v10(std::string_view payload) {
  WireReader r(payload);
  HandshakeV10 h;
  SQLP_TRY(version, r.u8());
  if (version != 10) return Error::Malformed;
  SQLP_TRY(server_version, r.null_str());
  SQLP_TRY(connection_id, r.u32());
  SQLP_TRY(part1, r.bytes(kScramblePart1));
  SQLP_TRY(filler, r.u8());
  if (filler != 0) return Error::Malformed;
  SQLP_TRY(cap_lower, r.u16());
  SQLP_TRY(charset, r.u8());
  SQLP_TRY(status_flags, r.u16());
  SQLP_TRY(cap_upper, r.u16());
  SQLP_TRY(data_len, r.u8());
  SQLP_TRY(reserved, r.bytes(kReservedSize));
  h.server_version = server_version;
  h.connection_id = connection_id;
  h.auth_plugin_data = part1;
  h.capabilities = std::uint32_t{cap_lower} | (std::uint32_t{cap_upper} << 16);
  h.character_set = charset;
  h.status_flags = status_flags;
  h.auth_plugin_data_len = data_len;
  h.reserved = reserved;
  if (h.capabilities & cap::kSecureConnection) {
    SQLP_TRY(part2, r.bytes(part2_size(data_len)));
    h.auth_plugin_data.append(part2);
  }
  if (h.capabilities & cap::kPluginAuth) {
    SQLP_TRY(plugin, r.null_str());
    h.auth_plugin_name = plugin;
  }
  if (!r.empty()) return Error::Malformed;
  return h;
}

std::string build_handshake_v10(const HandshakeV10& h) {
  std::string out;
  put_u8(out, h.protocol_version);
  put_null_str(out, h.server_version);
  put_u32(out, h.connection_id);
  std::string part1 =
      h.auth_plugin_data.substr(0, std::min(kScramblePart1, h.auth_plugin_data.size()));
  part1.resize(kScramblePart1, '\0');
  out.append(part1);
  put_u8(out, 0);
  put_u16(out, static_cast<std::uint16_t>(h.capabilities & 0xFFFF));
  put_u8(out, h.character_set);
  put_u16(out, h.status_flags);
  put_u16(out, static_cast<std::uint16_t>(h.capabilities >> 16));
  put_u8(out, h.auth_plugin_data_len);
  std::string reserved = h.reserved;
  reserved.resize(kReservedSize, '\0');
  out.append(reserved);
  if (h.capabilities & cap::kSecureConnection) {
    std::string part2 =
        h.auth_plugin_data.size() > kScramblePart1 ? h.auth_plugin_data.substr(kScramblePart1) : "";
    part2.resize(part2_size(h.auth_plugin_data_len), '\0');
    out.append(part2);
  }
  if (h.capabilities & cap::kPluginAuth) put_null_str(out, h.auth_plugin_name);
  return out;
}

bool is_ssl_request(std::string_view payload) {
  if (payload.size() != kSslRequestSize) return false;
  auto r = parse_ssl_request(payload);
  return r && (r->capabilities & cap::kSsl) != 0;
}

namespace {
Result<SslRequest> parse_response_head(WireReader& r) {
  SslRequest head;
  SQLP_TRY(caps, r.u32());
  SQLP_TRY(max_packet, r.u32());
  SQLP_TRY(charset, r.u8());
  SQLP_TRY(filler, r.bytes(kResponseFiller));
  (void)filler;  // zero by the spec; not checked, a relay must not be stricter than the server
  SQLP_TRY(mariadb_caps, r.u32());
  head.capabilities = caps;
  head.mariadb_capabilities = mariadb_caps;
  head.max_packet_size = max_packet;
  head.character_set = charset;
  return head;
}

void put_response_head(std::string& out, const SslRequest& head) {
  put_u32(out, head.capabilities);
  put_u32(out, head.max_packet_size);
  put_u8(out, head.character_set);
  out.append(kResponseFiller, '\0');
  put_u32(out, head.mariadb_capabilities);
}
}  // namespace

Result<SslRequest> parse_ssl_request(std::string_view payload) {
  WireReader r(payload);
  auto head = parse_response_head(r);
  if (!head) return head.error();
  if (!r.empty()) return Error::Malformed;
  return *head;
}

std::string build_ssl_request(const SslRequest& req) {
  std::string out;
  put_response_head(out, req);
  return out;
}

namespace {
Result<std::string> parse_auth_response(WireReader& r, std::uint32_t caps) {
  if (caps & cap::kPluginAuthLenencClientData) {
    SQLP_TRY(s, r.lenenc_str_not_null());
    return std::string(s);
  }
  if (caps & cap::kSecureConnection) {
    SQLP_TRY(len, r.u8());
    SQLP_TRY(s, r.bytes(len));
    return std::string(s);
  }
  SQLP_TRY(s, r.null_str());
  return std::string(s);
}

Result<std::vector<std::pair<std::string, std::string>>> parse_attrs(WireReader& r) {
  SQLP_TRY(block, r.lenenc_str_not_null());
  WireReader a(block);
  std::vector<std::pair<std::string, std::string>> attrs;
  while (!a.empty()) {
    SQLP_TRY(key, a.lenenc_str_not_null());
    SQLP_TRY(value, a.lenenc_str_not_null());
    attrs.emplace_back(key, value);
  }
  return attrs;
}
}  // namespace

Result<HandshakeResponse41> parse_handshake_response41(std::string_view payload) {
  WireReader r(payload);
  SQLP_TRY(head, parse_response_head(r));
  if (!(head.capabilities & cap::kProtocol41)) return Error::Unsupported;
  HandshakeResponse41 resp;
  resp.capabilities = head.capabilities;
  resp.max_packet_size = head.max_packet_size;
  resp.character_set = head.character_set;
  resp.mariadb_capabilities = head.mariadb_capabilities;
  SQLP_TRY(user, r.null_str());
  resp.user = user;
  SQLP_TRY(auth, parse_auth_response(r, head.capabilities));
  resp.auth_response = std::move(auth);
  if (head.capabilities & cap::kConnectWithDb) {
    SQLP_TRY(db, r.null_str());
    resp.database = db;
  }
  if (head.capabilities & cap::kPluginAuth) {
    SQLP_TRY(plugin, r.null_str());
    resp.auth_plugin = plugin;
  }
  if (head.capabilities & cap::kConnectAttrs) {
    SQLP_TRY(attrs, parse_attrs(r));
    resp.attrs = std::move(attrs);
  }
  // MariaDB may add a zstd compression level byte after this; we do not negotiate zstd.
  if (!r.empty()) return Error::Malformed;
  return resp;
}

std::string build_handshake_response41(const HandshakeResponse41& resp) {
  std::string out;
  const std::uint32_t caps = resp.capabilities;
  put_response_head(
      out, SslRequest{caps, resp.max_packet_size, resp.character_set, resp.mariadb_capabilities});
  put_null_str(out, resp.user);
  if (caps & cap::kPluginAuthLenencClientData) {
    put_lenenc_str(out, resp.auth_response);
  } else if (caps & cap::kSecureConnection) {
    put_u8(out, static_cast<std::uint8_t>(std::min<std::size_t>(resp.auth_response.size(), 0xFF)));
    out.append(resp.auth_response.substr(0, 0xFF));
  } else {
    put_null_str(out, resp.auth_response);
  }
  if (caps & cap::kConnectWithDb) put_null_str(out, resp.database);
  if (caps & cap::kPluginAuth) put_null_str(out, resp.auth_plugin);
  if (caps & cap::kConnectAttrs) {
    std::string block;
    for (const auto& [key, value] : resp.attrs) {
      put_lenenc_str(block, key);
      put_lenenc_str(block, value);
    }
    put_lenenc_str(out, block);
  }
  return out;
}

Result<OkPacket> parse_ok(std::string_view payload, std::uint32_t caps) {
  WireReader r(payload);
  OkPacket ok;
  SQLP_TRY(header, r.u8());
  const bool eof_style = header == kEofHeader && (caps & cap::kDeprecateEof);
  if (header != kOkHeader && !eof_style) return Error::Malformed;
  ok.header = header;
  SQLP_TRY(affected, r.lenenc_int());
  SQLP_TRY(insert_id, r.lenenc_int());
  if (!affected || !insert_id) return Error::Malformed;
  ok.affected_rows = *affected;
  ok.last_insert_id = *insert_id;
  if (caps & (cap::kProtocol41 | cap::kTransactions)) {
    SQLP_TRY(flags, r.u16());
    ok.status_flags = flags;
  }
  if (caps & cap::kProtocol41) {
    SQLP_TRY(warnings, r.u16());
    ok.warnings = warnings;
  }
  if (!(caps & cap::kSessionTrack)) {
    ok.info = r.rest();
    return ok;
  }
  // With session tracking the info string may be left out when empty, unless state follows.
  const bool state_changed = (ok.status_flags & status::kSessionStateChanged) != 0;
  if (r.empty() && !state_changed) return ok;
  SQLP_TRY(info, r.lenenc_str_not_null());
  ok.info = info;
  if (state_changed) {
    SQLP_TRY(state, r.lenenc_str_not_null());
    ok.session_state_info = state;
  }
  if (!r.empty()) return Error::Malformed;
  return ok;
}

std::string build_ok(const OkPacket& ok, std::uint32_t caps) {
  std::string out;
  put_u8(out, ok.header);
  put_lenenc_int(out, ok.affected_rows);
  put_lenenc_int(out, ok.last_insert_id);
  if (caps & (cap::kProtocol41 | cap::kTransactions)) put_u16(out, ok.status_flags);
  if (caps & cap::kProtocol41) put_u16(out, ok.warnings);
  if (!(caps & cap::kSessionTrack)) {
    out.append(ok.info);
    return out;
  }
  const bool state_changed = (ok.status_flags & status::kSessionStateChanged) != 0;
  if (ok.info.empty() && !state_changed) return out;
  put_lenenc_str(out, ok.info);
  if (state_changed) put_lenenc_str(out, ok.session_state_info);
  return out;
}

Result<ErrPacket> parse_err(std::string_view payload, std::uint32_t caps) {
  WireReader r(payload);
  ErrPacket err;
  SQLP_TRY(header, r.u8());
  if (header != kErrHeader) return Error::Malformed;
  SQLP_TRY(code, r.u16());
  err.code = code;
  if ((caps & cap::kProtocol41) && r.peek() == std::uint8_t{'#'}) {
    (void)r.u8();
    SQLP_TRY(state, r.bytes(kSqlStateSize));
    err.sql_state = state;
  }
  err.message = r.rest();
  return err;
}

std::string build_err(const ErrPacket& err, std::uint32_t caps) {
  std::string out;
  put_u8(out, kErrHeader);
  put_u16(out, err.code);
  if ((caps & cap::kProtocol41) && !err.sql_state.empty()) {
    out.push_back('#');
    std::string state = err.sql_state.substr(0, kSqlStateSize);
    state.resize(kSqlStateSize, '0');
    out.append(state);
  }
  out.append(err.message);
  return out;
}

std::string build_proxy_err(std::uint16_t code, std::string_view sql_state,
                            std::string_view message) {
  std::string state(sql_state.substr(0, kSqlStateSize));
  state.resize(kSqlStateSize, '0');
  return build_err(ErrPacket{code, state, std::string(message)}, cap::kProtocol41);
}

Result<EofPacket> parse_eof(std::string_view payload, std::uint32_t caps) {
  WireReader r(payload);
  EofPacket eof;
  SQLP_TRY(header, r.u8());
  if (header != kEofHeader || payload.size() >= 9) return Error::Malformed;
  if (caps & cap::kProtocol41) {
    SQLP_TRY(warnings, r.u16());
    SQLP_TRY(flags, r.u16());
    eof.warnings = warnings;
    eof.status_flags = flags;
  }
  if (!r.empty()) return Error::Malformed;
  return eof;
}

std::string build_eof(const EofPacket& eof, std::uint32_t caps) {
  std::string out;
  put_u8(out, kEofHeader);
  if (caps & cap::kProtocol41) {
    put_u16(out, eof.warnings);
    put_u16(out, eof.status_flags);
  }
  return out;
}

bool is_ok_packet(std::string_view payload) {
  return payload.size() >= 7 && first_byte(payload) == kOkHeader;
}

bool is_err_packet(std::string_view payload) {
  return !payload.empty() && first_byte(payload) == kErrHeader;
}

bool is_end_of_rows(std::string_view payload, std::uint32_t caps) {
  if (payload.empty() || first_byte(payload) != kEofHeader) return false;
  return (caps & cap::kDeprecateEof) ? payload.size() < 0xFFFFFF : payload.size() < 9;
}

Result<QueryResponse> classify_query_response(std::string_view payload) {
  if (payload.empty()) return Error::Truncated;
  switch (first_byte(payload)) {
    case kOkHeader:
      return QueryResponse::Ok;
    case kErrHeader:
      return QueryResponse::Err;
    case kLocalInfileHeader:
      return QueryResponse::LocalInfile;
    default:
      return QueryResponse::ResultSet;
  }
}

Result<ColumnCount> parse_column_count(std::string_view payload, std::uint32_t mariadb_caps) {
  WireReader r(payload);
  ColumnCount c;
  SQLP_TRY(columns, r.lenenc_int());
  // Zero columns would be an OK packet and 0xFB a LOCAL INFILE request, not a result set.
  if (!columns || *columns == 0) return Error::Malformed;
  c.columns = *columns;
  if (mariadb_caps & mariadb_cap::kCacheMetadata) {
    SQLP_TRY(follows, r.u8());
    if (follows > 1) return Error::Malformed;
    c.metadata_follows = follows == 1;
  }
  if (!r.empty()) return Error::Malformed;
  return c;
}

std::string build_column_count(const ColumnCount& c, std::uint32_t mariadb_caps) {
  std::string out;
  put_lenenc_int(out, c.columns);
  if (mariadb_caps & mariadb_cap::kCacheMetadata) put_u8(out, c.metadata_follows ? 1 : 0);
  return out;
}

Result<Command> command_of(std::string_view payload) {
  if (payload.empty()) return Error::Truncated;
  return static_cast<Command>(first_byte(payload));
}

std::string_view command_name(Command c) {
  switch (c) {
    case Command::Sleep:
      return "COM_SLEEP";
    case Command::Quit:
      return "COM_QUIT";
    case Command::InitDb:
      return "COM_INIT_DB";
    case Command::Query:
      return "COM_QUERY";
    case Command::FieldList:
      return "COM_FIELD_LIST";
    case Command::Statistics:
      return "COM_STATISTICS";
    case Command::ProcessInfo:
      return "COM_PROCESS_INFO";
    case Command::ProcessKill:
      return "COM_PROCESS_KILL";
    case Command::Ping:
      return "COM_PING";
    case Command::ChangeUser:
      return "COM_CHANGE_USER";
    case Command::BinlogDump:
      return "COM_BINLOG_DUMP";
    case Command::StmtPrepare:
      return "COM_STMT_PREPARE";
    case Command::StmtExecute:
      return "COM_STMT_EXECUTE";
    case Command::StmtSendLongData:
      return "COM_STMT_SEND_LONG_DATA";
    case Command::StmtClose:
      return "COM_STMT_CLOSE";
    case Command::StmtReset:
      return "COM_STMT_RESET";
    case Command::SetOption:
      return "COM_SET_OPTION";
    case Command::StmtFetch:
      return "COM_STMT_FETCH";
    case Command::ResetConnection:
      return "COM_RESET_CONNECTION";
    case Command::StmtBulkExecute:
      return "COM_STMT_BULK_EXECUTE";
  }
  return "COM_UNKNOWN";
}

bool expects_response(Command c) {
  return c != Command::Quit && c != Command::StmtClose && c != Command::StmtSendLongData;
}

}  // namespace sqlproxy::protocol
