#pragma once
// PeerTransport: carries raft messages between the members of one cluster over TCP, as
// length-prefixed protobuf frames (peer_frame.h, peer.proto).
//
// Connections: for every peer, one outbound connection that this member dials and writes to; the
// peer's own outbound connection arrives here as an inbound connection that this member only
// reads. Each connection starts with Hello{cluster_id, from, to} and the acceptor's HelloReply:
// a member of another cluster (or one that dialed the wrong member) is refused, logged once and
// counted, and the dialer backs off. Raft message frames then carry just the raft Message; its
// from/to must match the handshake, or the frame counts as malformed. Any malformed, oversized or
// empty frame closes the connection with a log line and a count.
//
// Sending is best effort, as raft expects: send() never blocks; each peer has a bounded queue
// (messages and bytes) and a full queue drops the message and counts it. When a dial or a write
// fails or the connection is lost, the queue is dropped, the peer is reported unreachable once per
// failure streak, and the dialer retries with exponential back-off and jitter (the streak ends
// with the next successful write). Raft retransmits whatever was lost.
//
// Snapshots go over their own connection (so a long transfer never delays heartbeats): the
// checkpoint's files in chunks of snapshot_chunk_bytes, then the MsgSnap, then the receiver's
// SnapshotAck once its staged copy is synced. Memory: one chunk per transfer on each side.
//
// Ownership and threads: owned by the raft loop's owner. Every internal state lives on one strand
// of the io_context; public methods may be called from any thread (they post to that strand).
// Handlers run on `handler_executor` (the raft strand), never inline in a public call. The
// transport must outlive the io_context's run: call stop(), let the io_context finish (or stop
// it), then destroy the transport.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "discovery/server/peer_frame.h"
#include "raft/raft.pb.h"

namespace discovery::server {

struct PeerTransportConfig {
  std::uint64_t self_id = 0;
  std::uint64_t cluster_id = 0;
  // From --listen-peer-urls (one acceptor each); port 0 picks a free port.
  std::vector<boost::asio::ip::tcp::endpoint> listen;
  // Received snapshots are staged in subdirectories here. The transport owns the directory:
  // start() empties it, since whatever an earlier run left there was never installed.
  std::filesystem::path snapshot_dir;
  std::size_t frame_bytes_max = 16 << 20;
  std::size_t queue_messages_max = 4096;  // per peer
  std::size_t queue_bytes_max = 64 << 20;
  std::size_t write_batch_bytes_max = 1 << 20;  // queued frames coalesced into one write
  std::size_t read_bytes = 64 << 10;            // one read's buffer
  std::size_t snapshot_chunk_bytes = 1 << 20;   // must stay well below frame_bytes_max
  std::uint64_t snapshot_bytes_max = 64ull << 30;
  std::size_t inbound_connections_max = 256;
  std::chrono::milliseconds dial_timeout{1000};  // name resolution and connect
  std::chrono::milliseconds handshake_timeout{1000};
  std::chrono::milliseconds write_timeout{5000};
  std::chrono::milliseconds snapshot_timeout{30000};  // per chunk read or write, and the ack
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  std::uint64_t seed = 1;  // the back-off jitter's PRNG
  // The io_context runs on one thread, and send() is only called from it: send() may then write
  // to an idle connection at once instead of through the strand (see send()).
  bool inline_writes = false;
};

// Where a peer listens: a host name (resolved again at every dial, so a member that comes back
// under its name with a new address, as a Kubernetes pod does, is found) or a literal address.
struct PeerAddress {
  std::string host;
  std::string port;
  static PeerAddress of(const boost::asio::ip::tcp::endpoint& endpoint);
  bool operator==(const PeerAddress&) const = default;
};

struct PeerTransportHandlers {
  // A raft message from a peer, in the order that peer sent it.
  std::function<void(raft::pb::Message)> on_message;
  // The transport could not reach `peer` (dial, handshake or write failed); raft should probe.
  std::function<void(std::uint64_t peer)> on_unreachable;
  // A MsgSnap whose checkpoint files are synced in `staged_dir`. The handler owns the directory:
  // it steps the message into Node and installs the directory (snapshot_checkpoint.h) when a
  // Ready carries that snapshot, or removes it (Node ignored a resend or an outdated snapshot).
  std::function<void(raft::pb::Message, std::filesystem::path staged_dir)> on_snapshot;
  // The outcome of one send_snapshot(): true once the receiver acknowledged it.
  std::function<void(std::uint64_t peer, bool ok)> on_snapshot_sent;
  // The answer to a joining member's MembersQuery (called on the transport's strand, so it must
  // only read what is safe there; main() runs that strand on the raft loop's one thread, so it
  // reads the member directly). Unset: the query is refused by closing the connection.
  std::function<pb::MembersReply()> on_members_query;
  // Whether `peer` was removed from the cluster (same thread rule as on_members_query): its
  // handshake is then refused with HelloReply.removed. Unset: nobody counts as removed.
  std::function<bool(std::uint64_t peer)> is_removed;
  // A peer refused this member's handshake because it was removed from the cluster.
  std::function<void()> on_removed;
};

// Counters, registered in the Registry given to the transport (names in peer_transport.cc).
struct PeerTransportMetrics {
  explicit PeerTransportMetrics(common::metrics::Registry& registry);
  common::metrics::Counter& sent_messages;
  common::metrics::Counter& received_messages;
  common::metrics::Counter& dropped_messages;  // queue full, or queued when a connection failed
  common::metrics::Counter& send_failures;     // dials, handshakes and writes that failed
  common::metrics::Counter& cluster_mismatches;
  common::metrics::Counter& malformed_frames;
  common::metrics::Counter& snapshots_sent;
  common::metrics::Counter& snapshots_received;
  common::metrics::Counter& snapshot_failures;
};

class PeerTransport {
 public:
  PeerTransport(boost::asio::io_context& io, PeerTransportConfig config,
                PeerTransportHandlers handlers, boost::asio::any_io_executor handler_executor,
                common::metrics::Registry& registry);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Binds the listen addresses and starts accepting. Call once, before the io_context runs or from
  // its thread. Error: the address cannot be bound (the message names it).
  common::Result<void, std::string> start();
  // The first bound address (its real port when config.listen asked for port 0). After start().
  boost::asio::ip::tcp::endpoint local_endpoint() const { return local_endpoints_.front(); }
  // Every bound address, in the order of config.listen. After start().
  const std::vector<boost::asio::ip::tcp::endpoint>& local_endpoints() const {
    return local_endpoints_;
  }
  // Closes the listener and every connection and drops the queues; once the stop has run on the
  // transport's strand, no further handler is posted (ones posted before may still run).
  void stop();

  // Peers: adding a known id or removing/updating an unknown one does nothing.
  void add_peer(std::uint64_t id, PeerAddress address);
  void remove_peer(std::uint64_t id);
  // A new address: the current connection closes and the next dial goes to `address`.
  void update_peer(std::uint64_t id, PeerAddress address);

  // Queues each message for its `to` peer (unknown peers: dropped and counted). Never blocks.
  // MsgSnap must go through send_snapshot() instead (CHECKed). With config.inline_writes, the
  // frames for a connected peer whose writer is idle are written here, without blocking, as far
  // as the socket takes them; the rest leaves through the writer as usual. Returns true when
  // every message was written here (so none waits for a later handler), false otherwise.
  bool send(std::vector<raft::pb::Message> messages);
  // Streams the checkpoint in `checkpoint_dir` and then `message` (a MsgSnap) to message.to();
  // reports the outcome through on_snapshot_sent. The directory must stay until then. A second
  // snapshot to a peer with one in flight fails at once.
  void send_snapshot(raft::pb::Message message, std::filesystem::path checkpoint_dir);

  const PeerTransportMetrics& metrics() const { return metrics_; }

 private:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  using StreamPtr = std::shared_ptr<boost::beast::tcp_stream>;
  struct Peer {
    std::uint64_t id = 0;
    PeerAddress address;
    std::deque<std::string> queue;  // one frame each
    std::size_t queue_bytes = 0;
    StreamPtr stream;  // the connected outbound stream, if any
    std::unique_ptr<boost::asio::steady_timer> wake;
    int failures = 0;  // consecutive
    bool reported_unreachable = false;
    bool mismatch_logged = false;
    bool removed = false;
    bool snapshot_in_flight = false;
    bool writing = false;  // the writer's gathered write is under way: no inline write meanwhile
  };
  using PeerPtr = std::shared_ptr<Peer>;

  void do_send(std::vector<raft::pb::Message>& messages);
  bool enqueue(Peer& peer, std::string frame);
  void write_now(Peer& peer);
  void drop_queue(Peer& peer);
  void close_stream(Peer& peer);
  void release(const StreamPtr& stream);  // closes and forgets a stream
  void on_peer_failure(Peer& peer);
  std::chrono::milliseconds backoff(int failures);

  boost::asio::awaitable<void> run_peer(PeerPtr peer);
  boost::asio::awaitable<
      std::tuple<boost::beast::error_code, boost::asio::ip::tcp::resolver::results_type>>
  resolve(const PeerAddress& address, std::chrono::steady_clock::time_point deadline);
  boost::asio::awaitable<StreamPtr> dial(Peer& peer, bool snapshot);
  boost::asio::awaitable<void> watch_outbound(PeerPtr peer, StreamPtr stream);
  boost::asio::awaitable<void> write_queued(Peer& peer);
  boost::asio::awaitable<void> send_snapshot_job(PeerPtr peer, raft::pb::Message message,
                                                 std::filesystem::path dir);
  boost::asio::awaitable<bool> stream_snapshot(boost::beast::tcp_stream& stream,
                                               const raft::pb::Message& message,
                                               const std::filesystem::path& dir);

  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
  boost::asio::awaitable<void> serve_inbound(StreamPtr stream);
  boost::asio::awaitable<bool> accept_hello(boost::beast::tcp_stream& stream,
                                            const pb::Hello& hello);
  boost::asio::awaitable<void> read_messages(StreamPtr stream, FrameReader& reader,
                                             const pb::Hello& hello);
  boost::asio::awaitable<void> receive_snapshot(boost::beast::tcp_stream& stream,
                                                FrameReader& reader, const pb::Hello& hello);
  bool valid_message(const raft::pb::Message& message, const pb::Hello& hello,
                     boost::beast::tcp_stream& stream);
  bool drain_messages(FrameReader& reader, const pb::Hello& hello, boost::beast::tcp_stream& stream,
                      std::vector<raft::pb::Message>& batch);
  void deliver(std::vector<raft::pb::Message> messages);

  const PeerTransportConfig config_;
  const PeerTransportHandlers handlers_;
  boost::asio::any_io_executor handler_executor_;
  PeerTransportMetrics metrics_;
  Strand strand_;
  std::deque<boost::asio::ip::tcp::acceptor> acceptors_;  // a deque: references stay valid
  std::vector<boost::asio::ip::tcp::endpoint> local_endpoints_;
  std::map<std::uint64_t, PeerPtr> peers_;
  std::multimap<std::uint64_t, StreamPtr> inbound_;  // by the dialer's id
  std::size_t inbound_count_ = 0;
  std::set<StreamPtr> streams_;              // every open connection, so stop() can close them all
  std::set<std::uint64_t> mismatch_logged_;  // dialers refused (and logged) once
  std::uint64_t snapshot_serial_ = 0;
  // send() calls posted to the strand and not yet run (with inline_writes, read by send() on the
  // same thread; otherwise only counted).
  std::atomic<std::uint64_t> posted_sends_ = 0;
  std::mt19937_64 rng_;
  bool stopped_ = false;
};

}  // namespace discovery::server
