#pragma once
// Codecs a relay needs to follow the command/response exchange without holding whole packets:
// each parse_* here reads only the leading bytes of a payload (a FrameScanner prefix) and fails
// with Truncated when those are too few. Covers the greeting's and the client response's
// capability words, OK/EOF status flags (also the 0xFE OK that ends rows under
// CLIENT_DEPRECATE_EOF), COM_STMT_PREPARE_OK, LOCAL INFILE requests, the authentication
// exchange (auth switch, more data) and MariaDB progress reports. Pure; never throws.

#include <cstdint>
#include <string>
#include <string_view>

#include "sqlproxy/protocol/error.h"

namespace sqlproxy::protocol {

// Capabilities the server offers in HandshakeV10. MariaDB announces its extended capabilities in
// the last 4 reserved bytes when it clears CLIENT_LONG_PASSWORD (its "CLIENT_MYSQL" bit).
struct GreetingCapabilities {
  std::uint32_t capabilities = 0;
  std::uint32_t mariadb_capabilities = 0;

  friend bool operator==(const GreetingCapabilities&, const GreetingCapabilities&) = default;
};
Result<GreetingCapabilities> parse_greeting_capabilities(std::string_view prefix);

// The capability words of a HandshakeResponse41 or SSLRequest (its first 32 bytes).
struct ClientCapabilities {
  std::uint32_t capabilities = 0;
  std::uint32_t mariadb_capabilities = 0;  // zero when the client sets CLIENT_LONG_PASSWORD

  friend bool operator==(const ClientCapabilities&, const ClientCapabilities&) = default;
};
Result<ClientCapabilities> parse_client_capabilities(std::string_view prefix);

// Status flags of an OK packet (header 0x00, or 0xFE when it ends rows under
// CLIENT_DEPRECATE_EOF). Zero when the negotiated capabilities carry no status field.
Result<std::uint16_t> parse_ok_status(std::string_view prefix, std::uint32_t capabilities);

// True when a packet of `length` bytes starting with `first` ends the rows of a result set: a
// 5-byte-or-shorter EOF, or (CLIENT_DEPRECATE_EOF) an OK with header 0xFE. The length tells such a
// packet apart from a row whose first column has an 8-byte length prefix.
bool is_end_of_rows_head(std::uint8_t first, std::size_t length, std::uint32_t capabilities);
// Status flags of that end-of-rows packet.
Result<std::uint16_t> parse_end_of_rows_status(std::string_view prefix, std::uint32_t capabilities);

// Server status flag: a read-only cursor was opened by COM_STMT_EXECUTE; its rows come with
// COM_STMT_FETCH, not after the column definitions.
namespace status {
inline constexpr std::uint16_t kCursorExists = 1u << 6;
}  // namespace status

// COM_STMT_PREPARE_OK: 0x00, statement id, columns, params, filler, warnings (12 bytes; MySQL 8
// may add a metadata-follows byte, which is accepted and ignored).
struct StmtPrepareOk {
  std::uint32_t statement_id = 0;
  std::uint16_t columns = 0;
  std::uint16_t params = 0;
  std::uint16_t warnings = 0;

  friend bool operator==(const StmtPrepareOk&, const StmtPrepareOk&) = default;
};
inline constexpr std::size_t kStmtPrepareOkSize = 12;
Result<StmtPrepareOk> parse_stmt_prepare_ok(std::string_view prefix);
std::string build_stmt_prepare_ok(const StmtPrepareOk& ok);

// LOCAL INFILE request: 0xFB and the file name the client should send.
bool is_local_infile_request(std::string_view prefix);
std::string build_local_infile_request(std::string_view file_name);

// MariaDB progress report (sent only to clients with MARIADB_CLIENT_PROGRESS): an ERR header
// with error code 0xFFFF, which is not an error and does not end a response.
bool is_progress_report(std::string_view prefix);
namespace mariadb_cap {
inline constexpr std::uint32_t kProgress = 1u << 0;
}  // namespace mariadb_cap

// The server's answers during authentication (after HandshakeResponse41 or COM_CHANGE_USER).
enum class AuthReply {
  Ok,          // authenticated; the command phase starts
  Err,         // refused; the server closes the connection (or keeps the old user after change)
  Switch,      // 0xFE: use another plugin; the client answers
  MoreData,    // 0x01: plugin data; the client answers
  FastAuthOk,  // 0x01 0x03 (caching_sha2_password): an OK follows, the client does not answer
};
Result<AuthReply> classify_auth_reply(std::string_view prefix);

struct AuthSwitchRequest {
  std::string plugin;
  std::string data;

  friend bool operator==(const AuthSwitchRequest&, const AuthSwitchRequest&) = default;
};
Result<AuthSwitchRequest> parse_auth_switch_request(std::string_view payload);
std::string build_auth_switch_request(const AuthSwitchRequest& r);

// mysql_native_password's answer to a 20-byte nonce: SHA1(password) XOR
// SHA1(nonce + SHA1(SHA1(password))); empty for an empty password. `nonce` is the greeting's (or
// auth switch's) plugin data without its trailing NUL.
std::string native_password_scramble(std::string_view password, std::string_view nonce);

}  // namespace sqlproxy::protocol
