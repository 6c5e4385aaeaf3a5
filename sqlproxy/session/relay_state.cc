#include "sqlproxy/session/relay_state.h"

#include <fmt/format.h>

#include "sqlproxy/protocol/responses.h"

namespace sqlproxy::session {

namespace p = protocol;

namespace {
constexpr std::uint8_t kOkHeader = 0x00;
constexpr std::uint8_t kErrHeader = 0xFF;
constexpr std::uint8_t kLocalInfileHeader = 0xFB;

std::uint8_t first_byte(const p::PacketHead& head) {
  return static_cast<std::uint8_t>(head.prefix[0]);
}

std::string describe(const p::PacketHead& head) {
  return fmt::format("packet seq {} of {} bytes starting 0x{:02x}", head.sequence_id, head.length,
                     head.prefix.empty() ? 0 : first_byte(head));
}

Expect first_expect(p::Command c) {
  switch (c) {
    case p::Command::Query:
    case p::Command::StmtExecute:
    case p::Command::StmtBulkExecute:
    case p::Command::ProcessInfo:
      return Expect::ResultHead;
    case p::Command::StmtFetch:
      return Expect::Rows;
    case p::Command::StmtPrepare:
      return Expect::PrepareHead;
    case p::Command::ChangeUser:
      return Expect::AuthReply;
    case p::Command::FieldList:
      return Expect::DefsUntilEof;
    default:
      return Expect::OnePacket;
  }
}
}  // namespace

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::Greeting:
      return "greeting";
    case Phase::ClientResponse:
      return "client-response";
    case Phase::Authenticating:
      return "authenticating";
    case Phase::Command:
      return "command";
    case Phase::Opaque:
      return "opaque";
    case Phase::Closed:
      return "closed";
  }
  return "unknown";
}

RelayState::Step RelayState::fail(std::string why) {
  failed_ = std::move(why);
  return *failed_;
}

RelayState::Step RelayState::on_server_packet(const p::PacketHead& head) {
  if (failed_) return *failed_;
  switch (phase_) {
    case Phase::Greeting:
      return on_greeting(head);
    case Phase::ClientResponse:
      // The server read bytes that never made a whole packet for us (a client speaking another
      // protocol): it answers "Bad handshake" and closes. The client is at fault, not the server.
      if (head.length > 0 && first_byte(head) == kErrHeader) {
        phase_ = Phase::Closed;
        return {};
      }
      return fail("server sent a packet before the client's handshake response: " + describe(head));
    case Phase::Authenticating:
      return on_auth_reply(head, false);
    case Phase::Command:
      if (pending_.empty()) {
        // A server that kills or shuts down a session sends an ERR on its own, then closes.
        if (head.length > 0 && first_byte(head) == kErrHeader) return {};
        return fail("server sent a packet no command asked for: " + describe(head));
      }
      return on_response_packet(pending_.front(), head);
    case Phase::Opaque:
    case Phase::Closed:
      return {};
  }
  return {};
}

RelayState::Step RelayState::on_greeting(const p::PacketHead& head) {
  if (head.length == 0) return fail("empty greeting");
  if (first_byte(head) == kErrHeader) {
    // The server refuses the connection (too many connections, host blocked) in place of a
    // greeting and closes it.
    phase_ = Phase::Closed;
    return {};
  }
  auto caps = p::parse_greeting_capabilities(head.prefix);
  if (!caps) {
    return fail(fmt::format("bad greeting ({}): {}", p::error_name(caps.error()), describe(head)));
  }
  server_capabilities_ = caps->capabilities;
  server_mariadb_capabilities_ = caps->mariadb_capabilities;
  phase_ = Phase::ClientResponse;
  return {};
}

RelayState::Step RelayState::on_client_response(const p::PacketHead& head) {
  if (head.whole() && p::is_ssl_request(head.prefix)) {
    phase_ = Phase::Opaque;
    return {};
  }
  auto caps = p::parse_client_capabilities(head.prefix);
  if (!caps) {
    return fail(fmt::format("bad handshake response ({}): {}", p::error_name(caps.error()),
                            describe(head)));
  }
  capabilities_ = caps->capabilities & server_capabilities_;
  mariadb_capabilities_ = caps->mariadb_capabilities & server_mariadb_capabilities_;
  // Compression starts right after authentication; its frames are not readable here.
  phase_ = (capabilities_ & p::cap::kCompress) ? Phase::Opaque : Phase::Authenticating;
  auth_client_turn_ = false;
  return {};
}

RelayState::Step RelayState::on_auth_reply(const p::PacketHead& head, bool change_user) {
  if (auth_client_turn_ && !change_user) {
    return fail("server packet while the client owes an authentication answer: " + describe(head));
  }
  auto reply = p::classify_auth_reply(head.prefix);
  if (!reply) return fail("bad authentication reply: " + describe(head));
  switch (*reply) {
    case p::AuthReply::Ok: {
      auto flags = p::parse_ok_status(head.prefix, capabilities_);
      if (!flags) return fail("bad OK after authentication: " + describe(head));
      status_flags_ = *flags;
      if (change_user) {
        finish_response();
      } else {
        phase_ = Phase::Command;
      }
      return {};
    }
    case p::AuthReply::Err:
      if (change_user) {
        finish_response();
      } else {
        phase_ = Phase::Closed;
      }
      return {};
    case p::AuthReply::Switch:
    case p::AuthReply::MoreData:
      if (change_user) {
        pending_.front().expect = Expect::AuthData;
      } else {
        auth_client_turn_ = true;
      }
      return {};
    case p::AuthReply::FastAuthOk:
      return {};
  }
  return {};
}

RelayState::Step RelayState::on_client_packet(const p::PacketHead& head) {
  if (failed_) return *failed_;
  switch (phase_) {
    case Phase::Greeting:
      return fail("client sent a packet before the server's greeting: " + describe(head));
    case Phase::ClientResponse:
      return on_client_response(head);
    case Phase::Authenticating:
      if (!auth_client_turn_) {
        return fail("client packet while the server owes an authentication reply: " +
                    describe(head));
      }
      auth_client_turn_ = false;
      return {};
    case Phase::Command:
      if (!pending_.empty() && pending_.front().expect == Expect::InfileData) {
        // The file's contents end with an empty packet; then the server answers OK or ERR.
        if (head.length == 0) pending_.front().expect = Expect::ResultHead;
        return {};
      }
      if (!pending_.empty() && pending_.front().expect == Expect::AuthData) {
        pending_.front().expect = Expect::AuthReply;
        return {};
      }
      return on_command(head);
    case Phase::Opaque:
    case Phase::Closed:
      return {};
  }
  return {};
}

RelayState::Step RelayState::on_command(const p::PacketHead& head) {
  auto command = p::command_of(head.prefix);
  if (!command) return fail("empty command packet");
  switch (*command) {
    case p::Command::Quit:
      phase_ = Phase::Closed;
      return {};
    case p::Command::StmtClose:
    case p::Command::StmtSendLongData:
      return {};
    case p::Command::BinlogDump:
      // A replication stream has no command/response shape to follow.
      phase_ = Phase::Opaque;
      return {};
    default:
      break;
  }
  if (pending_.size() >= kPendingMax) {
    return fail(fmt::format("more than {} commands pipelined", kPendingMax));
  }
  pending_.push_back(PendingResponse{*command, first_expect(*command), 0, 0});
  return {};
}

RelayState::Step RelayState::on_response_packet(PendingResponse& pr, const p::PacketHead& head) {
  if (head.length == 0) return fail("empty response packet");
  if ((mariadb_capabilities_ & p::mariadb_cap::kProgress) && p::is_progress_report(head.prefix)) {
    return {};
  }
  switch (pr.expect) {
    case Expect::ResultHead:
      return on_result_head(pr, head);
    case Expect::ColumnDefs:
    case Expect::ColumnsEof:
    case Expect::Rows:
    case Expect::DefsUntilEof:
      return on_rows_packet(pr, head);
    case Expect::PrepareHead:
    case Expect::ParamDefs:
    case Expect::ParamsEof:
    case Expect::PrepareColDefs:
    case Expect::PrepareColsEof:
      return on_prepare_packet(pr, head);
    case Expect::AuthReply:
      return on_auth_reply(head, true);
    case Expect::AuthData:
    case Expect::InfileData:
      return fail("server packet while the client owes data: " + describe(head));
    case Expect::OnePacket:
      if (first_byte(head) == kOkHeader) {
        if (auto flags = p::parse_ok_status(head.prefix, capabilities_)) status_flags_ = *flags;
      }
      finish_response();
      return {};
  }
  return {};
}

RelayState::Step RelayState::on_result_head(PendingResponse& pr, const p::PacketHead& head) {
  switch (first_byte(head)) {
    case kOkHeader: {
      auto flags = p::parse_ok_status(head.prefix, capabilities_);
      if (!flags) return fail("bad OK packet: " + describe(head));
      return on_end_status(*flags);
    }
    case kErrHeader:
      finish_response();
      return {};
    case kLocalInfileHeader:
      if (pr.command != p::Command::Query) return fail("LOCAL INFILE request outside COM_QUERY");
      pr.expect = Expect::InfileData;
      return {};
    default:
      break;
  }
  auto count = p::parse_column_count(head.prefix, mariadb_capabilities_);
  if (!count || !head.whole()) return fail("bad column count: " + describe(head));
  if (count->metadata_follows) {
    pr.expect = Expect::ColumnDefs;
    pr.left = count->columns;
  } else {
    after_column_defs(pr);
  }
  return {};
}

void RelayState::after_column_defs(PendingResponse& pr) {
  pr.expect = (capabilities_ & p::cap::kDeprecateEof) ? Expect::Rows : Expect::ColumnsEof;
}

RelayState::Step RelayState::on_rows_packet(PendingResponse& pr, const p::PacketHead& head) {
  const std::uint8_t first = first_byte(head);
  if (pr.expect == Expect::ColumnDefs) {
    if (first == kErrHeader) return fail("ERR inside column definitions");
    if (--pr.left == 0) after_column_defs(pr);
    return {};
  }
  if (pr.expect == Expect::ColumnsEof) {
    auto flags = p::parse_end_of_rows_status(head.prefix, capabilities_);
    if (!flags) return fail("expected EOF after column definitions: " + describe(head));
    status_flags_ = *flags;
    // With a cursor the rows come later, through COM_STMT_FETCH.
    if (pr.command == p::Command::StmtExecute && (*flags & p::status::kCursorExists)) {
      finish_response();
    } else {
      pr.expect = Expect::Rows;
    }
    return {};
  }
  if (first == kErrHeader) {
    finish_response();
    return {};
  }
  if (!p::is_end_of_rows_head(first, head.length, capabilities_)) return {};  // a row
  auto flags = p::parse_end_of_rows_status(head.prefix, capabilities_);
  if (!flags) return fail("bad end of rows: " + describe(head));
  if (pr.expect == Expect::DefsUntilEof) {
    status_flags_ = *flags;
    finish_response();
    return {};
  }
  return on_end_status(*flags);
}

RelayState::Step RelayState::on_prepare_packet(PendingResponse& pr, const p::PacketHead& head) {
  const bool deprecate_eof = (capabilities_ & p::cap::kDeprecateEof) != 0;
  auto to_columns = [&] {
    if (pr.columns > 0) {
      pr.expect = Expect::PrepareColDefs;
      pr.left = pr.columns;
    } else {
      finish_response();
    }
  };
  switch (pr.expect) {
    case Expect::PrepareHead: {
      if (first_byte(head) == kErrHeader) {
        finish_response();
        return {};
      }
      auto ok = p::parse_stmt_prepare_ok(head.prefix);
      if (!ok) return fail("bad COM_STMT_PREPARE_OK: " + describe(head));
      pr.columns = ok->columns;
      if (ok->params > 0) {
        pr.expect = Expect::ParamDefs;
        pr.left = ok->params;
      } else {
        to_columns();
      }
      return {};
    }
    case Expect::ParamDefs:
      if (--pr.left == 0) {
        if (deprecate_eof) {
          to_columns();
        } else {
          pr.expect = Expect::ParamsEof;
        }
      }
      return {};
    case Expect::PrepareColDefs:
      if (--pr.left == 0) {
        if (deprecate_eof) {
          finish_response();
        } else {
          pr.expect = Expect::PrepareColsEof;
        }
      }
      return {};
    default:  // ParamsEof, PrepareColsEof
      if (!p::is_end_of_rows_head(first_byte(head), head.length, capabilities_)) {
        return fail("expected EOF in COM_STMT_PREPARE response: " + describe(head));
      }
      if (pr.expect == Expect::ParamsEof) {
        to_columns();
      } else {
        finish_response();
      }
      return {};
  }
}

RelayState::Step RelayState::on_end_status(std::uint16_t flags) {
  status_flags_ = flags;
  if (p::more_results_exist(flags)) {
    pending_.front().expect = Expect::ResultHead;
  } else {
    finish_response();
  }
  return {};
}

void RelayState::finish_response() { pending_.pop_front(); }

}  // namespace sqlproxy::session
