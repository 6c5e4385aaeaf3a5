#include "sqlproxy/protocol/responses.h"

#include <openssl/sha.h>

#include <array>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/wire.h"

namespace sqlproxy::protocol {

namespace {
constexpr std::uint8_t kOkHeader = 0x00;
constexpr std::uint8_t kMoreDataHeader = 0x01;
constexpr std::uint8_t kLocalInfileHeader = 0xFB;
constexpr std::uint8_t kEofHeader = 0xFE;
constexpr std::uint8_t kErrHeader = 0xFF;
constexpr std::uint8_t kFastAuthSuccess = 0x03;
constexpr std::size_t kGreetingFixedAfterVersion = 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1;
constexpr std::size_t kReservedSize = 10;
constexpr std::size_t kMariadbCapsOffsetInReserved = 6;
constexpr std::size_t kClientMariadbCapsOffset = 28;
// An EOF packet is at most 5 bytes (header, warnings, status); see is_end_of_rows in codecs.h.
constexpr std::size_t kEofMaxLength = 9;

std::uint8_t first_byte(std::string_view s) { return static_cast<std::uint8_t>(s[0]); }
}  // namespace

Result<GreetingCapabilities> parse_greeting_capabilities(std::string_view prefix) {
  WireReader r(prefix);
  auto version = r.u8();
  if (!version) return version.error();
  if (*version != 10) return Error::Malformed;
  if (auto server_version = r.null_str(); !server_version) return server_version.error();
  auto fixed = r.bytes(kGreetingFixedAfterVersion);
  if (!fixed) return fixed.error();
  auto reserved = r.bytes(kReservedSize);
  if (!reserved) return reserved.error();
  // Offsets inside the fixed part: connection id 4, scramble 8, filler 1, then caps lower 2,
  // charset 1, status 2, caps upper 2, auth data length 1.
  WireReader f(*fixed);
  (void)*f.bytes(13);
  const std::uint16_t lower = *f.u16();
  (void)*f.u8();
  (void)*f.u16();
  const std::uint16_t upper = *f.u16();
  GreetingCapabilities caps;
  caps.capabilities = std::uint32_t{lower} | (std::uint32_t{upper} << 16);
  if ((caps.capabilities & cap::kLongPassword) == 0) {
    WireReader m(reserved->substr(kMariadbCapsOffsetInReserved));
    caps.mariadb_capabilities = *m.u32();
  }
  return caps;
}

Result<ClientCapabilities> parse_client_capabilities(std::string_view prefix) {
  if (prefix.size() < kSslRequestSize) return Error::Truncated;
  WireReader r(prefix);
  ClientCapabilities caps;
  caps.capabilities = *r.u32();
  if ((caps.capabilities & cap::kProtocol41) == 0) return Error::Unsupported;
  if ((caps.capabilities & cap::kLongPassword) == 0) {
    WireReader m(prefix.substr(kClientMariadbCapsOffset));
    caps.mariadb_capabilities = *m.u32();
  }
  return caps;
}

Result<std::uint16_t> parse_ok_status(std::string_view prefix, std::uint32_t capabilities) {
  WireReader r(prefix);
  auto header = r.u8();
  if (!header) return header.error();
  if (*header != kOkHeader && *header != kEofHeader) return Error::Malformed;
  for (int i = 0; i < 2; ++i) {  // affected rows, last insert id
    auto n = r.lenenc_int();
    if (!n) return n.error();
    if (!*n) return Error::Malformed;  // NULL is not a count
  }
  if ((capabilities & (cap::kProtocol41 | cap::kTransactions)) == 0) return std::uint16_t{0};
  return r.u16();
}

bool is_end_of_rows_head(std::uint8_t first, std::size_t length, std::uint32_t capabilities) {
  if (first != kEofHeader) return false;
  return (capabilities & cap::kDeprecateEof) ? length < 0xFFFFFF : length < kEofMaxLength;
}

Result<std::uint16_t> parse_end_of_rows_status(std::string_view prefix,
                                               std::uint32_t capabilities) {
  if (capabilities & cap::kDeprecateEof) return parse_ok_status(prefix, capabilities);
  auto eof = parse_eof(prefix, capabilities);
  if (!eof) return eof.error();
  return eof->status_flags;
}

Result<StmtPrepareOk> parse_stmt_prepare_ok(std::string_view prefix) {
  WireReader r(prefix);
  auto header = r.u8();
  if (!header) return header.error();
  if (*header != kOkHeader) return Error::Malformed;
  if (r.remaining() < kStmtPrepareOkSize - 1) return Error::Truncated;
  StmtPrepareOk ok;
  ok.statement_id = *r.u32();
  ok.columns = *r.u16();
  ok.params = *r.u16();
  (void)*r.u8();
  ok.warnings = *r.u16();
  return ok;
}

std::string build_stmt_prepare_ok(const StmtPrepareOk& ok) {
  std::string out;
  put_u8(out, kOkHeader);
  put_u32(out, ok.statement_id);
  put_u16(out, ok.columns);
  put_u16(out, ok.params);
  put_u8(out, 0);
  put_u16(out, ok.warnings);
  return out;
}

bool is_local_infile_request(std::string_view prefix) {
  return !prefix.empty() && first_byte(prefix) == kLocalInfileHeader;
}

std::string build_local_infile_request(std::string_view file_name) {
  std::string out;
  put_u8(out, kLocalInfileHeader);
  out.append(file_name);
  return out;
}

bool is_progress_report(std::string_view prefix) {
  return prefix.size() >= 3 && first_byte(prefix) == kErrHeader &&
         static_cast<std::uint8_t>(prefix[1]) == 0xFF &&
         static_cast<std::uint8_t>(prefix[2]) == 0xFF;
}

Result<AuthReply> classify_auth_reply(std::string_view prefix) {
  if (prefix.empty()) return Error::Truncated;
  switch (first_byte(prefix)) {
    case kOkHeader:
      return AuthReply::Ok;
    case kErrHeader:
      return AuthReply::Err;
    case kEofHeader:
      return AuthReply::Switch;
    case kMoreDataHeader:
      if (prefix.size() == 2 && static_cast<std::uint8_t>(prefix[1]) == kFastAuthSuccess) {
        return AuthReply::FastAuthOk;
      }
      return AuthReply::MoreData;
    default:
      return Error::Malformed;
  }
}

Result<AuthSwitchRequest> parse_auth_switch_request(std::string_view payload) {
  WireReader r(payload);
  auto header = r.u8();
  if (!header) return header.error();
  if (*header != kEofHeader) return Error::Malformed;
  auto plugin = r.null_str();
  if (!plugin) return plugin.error();
  return AuthSwitchRequest{std::string(*plugin), std::string(r.rest())};
}

std::string build_auth_switch_request(const AuthSwitchRequest& req) {
  std::string out;
  put_u8(out, kEofHeader);
  put_null_str(out, req.plugin);
  out.append(req.data);
  return out;
}

std::string native_password_scramble(std::string_view password, std::string_view nonce) {
  if (password.empty()) return {};
  using Digest = std::array<unsigned char, SHA_DIGEST_LENGTH>;
  const auto sha1 = [](std::string_view data) {
    Digest d;
    SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
    return d;
  };
  const Digest stage1 = sha1(password);
  const Digest stage2 =
      sha1(std::string_view(reinterpret_cast<const char*>(stage1.data()), stage1.size()));
  std::string salted(nonce);
  salted.append(reinterpret_cast<const char*>(stage2.data()), stage2.size());
  const Digest mix = sha1(salted);
  std::string out(SHA_DIGEST_LENGTH, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(stage1[i] ^ mix[i]);
  }
  return out;
}

}  // namespace sqlproxy::protocol
