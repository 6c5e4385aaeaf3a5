#pragma once
// Codecs for the MySQL client/server packets the proxy must understand: the server greeting
// (Initial Handshake v10), the client's SSLRequest and HandshakeResponse41, OK, ERR and EOF
// packets, the command byte of command-phase packets and the server status flags. Payloads only:
// framing lives in framing.h. Every parse_* is the inverse of its build_* for payloads that
// build_* produces; parse_* never reads past the payload and never throws.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sqlproxy/protocol/error.h"

namespace sqlproxy::protocol {

// Capability flags (client and server).
namespace cap {
inline constexpr std::uint32_t kLongPassword = 1u << 0;
inline constexpr std::uint32_t kFoundRows = 1u << 1;
inline constexpr std::uint32_t kLongFlag = 1u << 2;
inline constexpr std::uint32_t kConnectWithDb = 1u << 3;
inline constexpr std::uint32_t kNoSchema = 1u << 4;
inline constexpr std::uint32_t kCompress = 1u << 5;
inline constexpr std::uint32_t kLocalFiles = 1u << 7;
inline constexpr std::uint32_t kProtocol41 = 1u << 9;
inline constexpr std::uint32_t kInteractive = 1u << 10;
inline constexpr std::uint32_t kSsl = 1u << 11;
inline constexpr std::uint32_t kTransactions = 1u << 13;
inline constexpr std::uint32_t kSecureConnection = 1u << 15;
inline constexpr std::uint32_t kMultiStatements = 1u << 16;
inline constexpr std::uint32_t kMultiResults = 1u << 17;
inline constexpr std::uint32_t kPsMultiResults = 1u << 18;
inline constexpr std::uint32_t kPluginAuth = 1u << 19;
inline constexpr std::uint32_t kConnectAttrs = 1u << 20;
inline constexpr std::uint32_t kPluginAuthLenencClientData = 1u << 21;
inline constexpr std::uint32_t kSessionTrack = 1u << 23;
inline constexpr std::uint32_t kDeprecateEof = 1u << 24;
}  // namespace cap

// Server status flags carried by OK and EOF packets.
namespace status {
inline constexpr std::uint16_t kInTrans = 1u << 0;
inline constexpr std::uint16_t kAutocommit = 1u << 1;
inline constexpr std::uint16_t kMoreResultsExist = 1u << 3;
inline constexpr std::uint16_t kSessionStateChanged = 1u << 14;
}  // namespace status

inline bool in_transaction(std::uint16_t status_flags) {
  return (status_flags & status::kInTrans) != 0;
}
inline bool autocommit(std::uint16_t status_flags) {
  return (status_flags & status::kAutocommit) != 0;
}
inline bool more_results_exist(std::uint16_t status_flags) {
  return (status_flags & status::kMoreResultsExist) != 0;
}

// Initial Handshake Packet, protocol version 10 (sent by the server first). Only the 4.1+ form
// (with the fields after the lower capability flags) is accepted.
struct HandshakeV10 {
  std::uint8_t protocol_version = 10;
  std::string server_version;
  std::uint32_t connection_id = 0;
  // Part 1 (8 bytes) followed by part 2 as sent (usually 12 bytes of scramble and a NUL).
  std::string auth_plugin_data;
  std::uint32_t capabilities = 0;  // lower 16 bits and upper 16 bits joined
  std::uint8_t character_set = 0;
  std::uint16_t status_flags = 0;
  // The length byte as sent (0 when the server lacks CLIENT_PLUGIN_AUTH).
  std::uint8_t auth_plugin_data_len = 0;
  // 10 bytes; MariaDB puts its extended capabilities in the last 4.
  std::string reserved = std::string(10, '\0');
  std::string auth_plugin_name;  // empty unless CLIENT_PLUGIN_AUTH

  friend bool operator==(const HandshakeV10&, const HandshakeV10&) = default;
};
Result<HandshakeV10> parse_handshake_v10(std::string_view payload);
// Part 2 is written as auth_plugin_data[8:], padded with NULs to max(13, auth_plugin_data_len-8).
std::string build_handshake_v10(const HandshakeV10& h);

// The fixed 32-byte head shared by SSLRequest and HandshakeResponse41.
inline constexpr std::size_t kSslRequestSize = 32;
struct SslRequest {
  std::uint32_t capabilities = 0;
  std::uint32_t max_packet_size = 0;
  std::uint8_t character_set = 0;
  // MariaDB clients put extended capabilities in the last 4 of the 23 filler bytes (zero for
  // MySQL clients); kept so that a rebuilt packet is byte for byte the one received.
  std::uint32_t mariadb_capabilities = 0;

  friend bool operator==(const SslRequest&, const SslRequest&) = default;
};
// True for a payload of exactly 32 bytes whose capabilities include CLIENT_SSL: the client asks
// for TLS and the rest of the session is opaque to us.
bool is_ssl_request(std::string_view payload);
Result<SslRequest> parse_ssl_request(std::string_view payload);
std::string build_ssl_request(const SslRequest& r);

struct HandshakeResponse41 {
  std::uint32_t capabilities = 0;
  std::uint32_t max_packet_size = 0;
  std::uint8_t character_set = 0;
  std::uint32_t mariadb_capabilities = 0;  // as in SslRequest
  std::string user;
  std::string auth_response;
  std::string database;                                    // when CLIENT_CONNECT_WITH_DB
  std::string auth_plugin;                                 // when CLIENT_PLUGIN_AUTH
  std::vector<std::pair<std::string, std::string>> attrs;  // when CLIENT_CONNECT_ATTRS

  friend bool operator==(const HandshakeResponse41&, const HandshakeResponse41&) = default;
};
// Unsupported for a pre-4.1 response (no CLIENT_PROTOCOL_41).
Result<HandshakeResponse41> parse_handshake_response41(std::string_view payload);
std::string build_handshake_response41(const HandshakeResponse41& r);

struct OkPacket {
  std::uint8_t header = 0x00;  // 0xFE when it ends a result set under CLIENT_DEPRECATE_EOF
  std::uint64_t affected_rows = 0;
  std::uint64_t last_insert_id = 0;
  std::uint16_t status_flags = 0;  // absent from the wire without PROTOCOL_41 or TRANSACTIONS
  std::uint16_t warnings = 0;      // PROTOCOL_41 only
  std::string info;
  std::string session_state_info;  // SESSION_TRACK with SERVER_SESSION_STATE_CHANGED

  friend bool operator==(const OkPacket&, const OkPacket&) = default;
};
// `capabilities` are those the client and server agreed on.
Result<OkPacket> parse_ok(std::string_view payload, std::uint32_t capabilities);
std::string build_ok(const OkPacket& ok, std::uint32_t capabilities);

struct ErrPacket {
  std::uint16_t code = 0;
  std::string sql_state;  // 5 characters, or empty when the packet carries no '#' marker
  std::string message;

  friend bool operator==(const ErrPacket&, const ErrPacket&) = default;
};
Result<ErrPacket> parse_err(std::string_view payload, std::uint32_t capabilities);
// sql_state is written only with PROTOCOL_41 and must then be empty or 5 characters.
std::string build_err(const ErrPacket& err, std::uint32_t capabilities);
// The ERR payload the proxy sends for its own failures (e.g. no healthy backend), as a 4.1
// server would: code, '#', 5-character SQL state (padded or cut), message.
std::string build_proxy_err(std::uint16_t code, std::string_view sql_state,
                            std::string_view message);

struct EofPacket {
  std::uint16_t warnings = 0;
  std::uint16_t status_flags = 0;

  friend bool operator==(const EofPacket&, const EofPacket&) = default;
};
Result<EofPacket> parse_eof(std::string_view payload, std::uint32_t capabilities);
std::string build_eof(const EofPacket& eof, std::uint32_t capabilities);

// Classification of a server payload by its first byte and length.
// An OK packet as the 4.1 protocol tells it apart: header 0x00 and at least 7 bytes.
bool is_ok_packet(std::string_view payload);
bool is_err_packet(std::string_view payload);
// An EOF packet, or under CLIENT_DEPRECATE_EOF the 0xFE OK that replaces it: what ends the rows
// of a result set. A row starting with 0xFE (8-byte length) is at least 0xFFFFFF bytes long.
bool is_end_of_rows(std::string_view payload, std::uint32_t capabilities);

// First packet of the response to COM_QUERY.
enum class QueryResponse { Ok, Err, LocalInfile, ResultSet };
Result<QueryResponse> classify_query_response(std::string_view payload);

// MariaDB extended capabilities (SslRequest::mariadb_capabilities) that change result sets.
namespace mariadb_cap {
inline constexpr std::uint32_t kExtendedMetadata = 1u << 3;
inline constexpr std::uint32_t kCacheMetadata = 1u << 4;
}  // namespace mariadb_cap

// The first packet of a result set: the number of columns and, when the client negotiated
// MariaDB's metadata cache, whether column definitions follow (0 means the client's cached
// ones apply and the EOF/rows come next).
struct ColumnCount {
  std::uint64_t columns = 0;
  bool metadata_follows = true;

  friend bool operator==(const ColumnCount&, const ColumnCount&) = default;
};
Result<ColumnCount> parse_column_count(std::string_view payload, std::uint32_t mariadb_caps);
std::string build_column_count(const ColumnCount& c, std::uint32_t mariadb_caps);

// Command byte of a command-phase packet. Unknown values are kept as they are.
enum class Command : std::uint8_t {
  Sleep = 0x00,
  Quit = 0x01,
  InitDb = 0x02,
  Query = 0x03,
  FieldList = 0x04,
  Statistics = 0x09,
  ProcessInfo = 0x0A,  // answered with a result set (mysql_list_processes)
  ProcessKill = 0x0C,
  Ping = 0x0E,
  ChangeUser = 0x11,
  BinlogDump = 0x12,
  StmtPrepare = 0x16,
  StmtExecute = 0x17,
  StmtSendLongData = 0x18,
  StmtClose = 0x19,
  StmtReset = 0x1A,
  SetOption = 0x1B,
  StmtFetch = 0x1C,
  ResetConnection = 0x1F,
  StmtBulkExecute = 0xFA,  // MariaDB: OK/ERR, or a result set with RETURNING
};
Result<Command> command_of(std::string_view payload);
std::string_view command_name(Command c);
// False for the commands the server never answers (COM_QUIT, COM_STMT_CLOSE,
// COM_STMT_SEND_LONG_DATA).
bool expects_response(Command c);

}  // namespace sqlproxy::protocol
