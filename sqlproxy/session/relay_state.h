#pragma once
// RelayState: the pure state machine a relay runs over the packets it forwards between one client
// and one backend, to know whether the session is idle and whether it is inside a transaction
// (what draining needs). It sees packet heads only (protocol/frame_scanner.h) and never changes a
// byte: the relay forwards everything as received.
//
// Phases: the greeting, the client's handshake response, authentication (auth switch and more
// data rounds), then the command phase, where each client command queues the response shape it
// expects (OK/ERR; result sets with column definitions, EOF or the CLIENT_DEPRECATE_EOF OK, rows,
// and SERVER_MORE_RESULTS_EXISTS chains; COM_STMT_PREPARE_OK with parameter and column
// definitions; LOCAL INFILE; COM_CHANGE_USER's authentication; no response for COM_QUIT,
// COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA). Clients may pipeline commands (MariaDB
// Connector/C sends PREPARE and EXECUTE together); responses answer them in order.
//
// After an SSLRequest, or when both sides agree on compression, the bytes can no longer be read:
// the state becomes Opaque, which counts as busy and inside a transaction for draining.
//
// Ownership and threads: one per session, used from the session's thread only. Invariants: the
// pending queue never exceeds kPendingMax; after an error every call fails with it again.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "common/result.h"
#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/frame_scanner.h"

namespace sqlproxy::session {

enum class Phase {
  Greeting,        // waiting for the server's HandshakeV10 (or an ERR in its place)
  ClientResponse,  // waiting for the client's HandshakeResponse41 or SSLRequest
  Authenticating,  // authentication rounds until the server's OK or ERR
  Command,         // command phase
  Opaque,          // TLS or compression: bytes relayed without reading them
  Closed,          // COM_QUIT sent, or authentication refused
};

std::string_view phase_name(Phase p);

// What the response to one command is waiting for next.
enum class Expect {
  ResultHead,      // OK, ERR, LOCAL INFILE or a column count
  ColumnDefs,      // `left` column definition packets
  ColumnsEof,      // the EOF after the column definitions (no CLIENT_DEPRECATE_EOF)
  Rows,            // rows until EOF / 0xFE OK / ERR
  InfileData,      // client's turn: file contents, ending with an empty packet
  PrepareHead,     // COM_STMT_PREPARE_OK or ERR
  ParamDefs,       // `left` parameter definitions
  ParamsEof,       // the EOF after them
  PrepareColDefs,  // `left` column definitions of the prepared statement
  PrepareColsEof,  // the EOF after them
  AuthReply,       // server's turn in an authentication round
  AuthData,        // client's turn in an authentication round
  OnePacket,       // any single packet (COM_PING, COM_STATISTICS, COM_RESET_CONNECTION ...)
  DefsUntilEof,    // COM_FIELD_LIST: definitions until EOF or ERR
};

struct PendingResponse {
  protocol::Command command = protocol::Command::Query;
  Expect expect = Expect::ResultHead;
  std::uint64_t left = 0;     // definitions still to come
  std::uint16_t columns = 0;  // of a prepared statement, after its parameters
};

class RelayState {
 public:
  static constexpr std::size_t kPendingMax = 4096;

  // Each returns an error text (naming the packet and the state) when the packet cannot occur
  // here: the session must then be closed.
  common::Result<void, std::string> on_server_packet(const protocol::PacketHead& head);
  common::Result<void, std::string> on_client_packet(const protocol::PacketHead& head);

  Phase phase() const { return phase_; }
  bool opaque() const { return phase_ == Phase::Opaque; }
  // Authenticated, no response or client data outstanding.
  bool idle() const { return phase_ == Phase::Command && pending_.empty(); }
  // The last status flags say SERVER_STATUS_IN_TRANS; always true while Opaque (unknown).
  bool in_transaction() const {
    return phase_ == Phase::Opaque || (status_flags_ & protocol::status::kInTrans) != 0;
  }
  // Closing now loses no work: idle and outside a transaction.
  bool can_close_now() const { return idle() && !in_transaction(); }
  std::uint16_t status_flags() const { return status_flags_; }
  std::size_t pending() const { return pending_.size(); }
  // Capabilities both sides agreed on (valid from the client's response on).
  std::uint32_t capabilities() const { return capabilities_; }
  std::uint32_t mariadb_capabilities() const { return mariadb_capabilities_; }

 private:
  using Step = common::Result<void, std::string>;
  Step on_greeting(const protocol::PacketHead& head);
  Step on_client_response(const protocol::PacketHead& head);
  Step on_auth_reply(const protocol::PacketHead& head, bool change_user);
  Step on_command(const protocol::PacketHead& head);
  Step on_response_packet(PendingResponse& p, const protocol::PacketHead& head);
  Step on_result_head(PendingResponse& p, const protocol::PacketHead& head);
  Step on_rows_packet(PendingResponse& p, const protocol::PacketHead& head);
  Step on_prepare_packet(PendingResponse& p, const protocol::PacketHead& head);
  Step on_end_status(std::uint16_t flags);
  void after_column_defs(PendingResponse& p);
  void finish_response();
  Step fail(std::string why);

  Phase phase_ = Phase::Greeting;
  std::uint32_t server_capabilities_ = 0;
  std::uint32_t server_mariadb_capabilities_ = 0;
  std::uint32_t capabilities_ = 0;
  std::uint32_t mariadb_capabilities_ = 0;
  std::uint16_t status_flags_ = 0;
  bool auth_client_turn_ = false;
  std::deque<PendingResponse> pending_;
  std::optional<std::string> failed_;
};

}  // namespace sqlproxy::session
