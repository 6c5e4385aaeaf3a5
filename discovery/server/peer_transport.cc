#include "discovery/server/peer_transport.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/check.h"
#include "discovery/server/snapshot_files.h"

namespace discovery::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHelloBytesMax = 1024;
// Distinct refused dialers remembered so that each is logged once; beyond this many, refusals are
// only counted (a scan of random ids must not grow memory).
constexpr std::size_t kMismatchLogMax = 1024;

// What one read of an envelope gave: the envelope, or why there is none (a socket error, a
// timeout, or a bad frame; only the last is the peer's fault).
struct ReadResult {
  std::optional<pb::Envelope> envelope;
  std::optional<FrameError> frame_error;
  beast::error_code ec;
};

asio::awaitable<ReadResult> read_envelope(beast::tcp_stream& stream, FrameReader& reader,
                                          std::size_t read_bytes) {
  for (;;) {
    auto next = reader.next();
    if (!next) co_return ReadResult{std::nullopt, next.error(), {}};
    if (*next) co_return ReadResult{std::move(**next), std::nullopt, {}};
    const std::span<char> space = reader.prepare(read_bytes);
    auto [ec, n] =
        co_await stream.async_read_some(asio::buffer(space.data(), space.size()), kAwait);
    if (ec) co_return ReadResult{std::nullopt, std::nullopt, ec};
    reader.commit(n);
  }
}

asio::awaitable<beast::error_code> write_envelope(beast::tcp_stream& stream,
                                                  const pb::Envelope& envelope,
                                                  std::chrono::milliseconds timeout) {
  std::string frame;
  append_frame(frame, envelope);
  stream.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(frame), kAwait);
  co_return ec;
}

std::string remote_text(beast::tcp_stream& stream) {
  beast::error_code ec;
  const tcp::endpoint remote = stream.socket().remote_endpoint(ec);
  if (ec) return "?";
  return remote.address().to_string() + ":" + std::to_string(remote.port());
}

void close(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
}

}  // namespace

PeerTransportMetrics::PeerTransportMetrics(common::metrics::Registry& registry)
    : sent_messages(registry.counter("discovery_peer_sent_messages_total",
                                     "Raft messages written to peer connections.")),
      received_messages(registry.counter("discovery_peer_received_messages_total",
                                         "Raft messages received from peers.")),
      dropped_messages(
          registry.counter("discovery_peer_dropped_messages_total",
                           "Raft messages dropped: peer queue full, or connection failed.")),
      send_failures(registry.counter("discovery_peer_send_failures_total",
                                     "Peer dials, handshakes and writes that failed.")),
      cluster_mismatches(
          registry.counter("discovery_peer_cluster_mismatches_total",
                           "Peer handshakes refused for another cluster id or member id.")),
      malformed_frames(registry.counter("discovery_peer_malformed_frames_total",
                                        "Peer connections closed for a bad frame.")),
      snapshots_sent(registry.counter("discovery_peer_snapshots_sent_total",
                                      "Snapshots a peer acknowledged.")),
      snapshots_received(registry.counter("discovery_peer_snapshots_received_total",
                                          "Snapshots received and handed to raft.")),
      snapshot_failures(registry.counter("discovery_peer_snapshot_failures_total",
                                         "Snapshot transfers that failed, either way.")) {}

PeerTransport::PeerTransport(asio::io_context& io, PeerTransportConfig config,
                             PeerTransportHandlers handlers, asio::any_io_executor handler_executor,
                             common::metrics::Registry& registry)
    : config_(std::move(config)),
      handlers_(std::move(handlers)),
      handler_executor_(std::move(handler_executor)),
      metrics_(registry),
      strand_(asio::make_strand(io)),
      rng_(config_.seed) {
  CHECK(config_.self_id != 0, "peer transport without a member id");
  CHECK(config_.snapshot_chunk_bytes + 1024 < config_.frame_bytes_max,
        "snapshot chunks of {} bytes do not fit frames of {}", config_.snapshot_chunk_bytes,
        config_.frame_bytes_max);
}

PeerTransport::~PeerTransport() = default;

common::Result<void, std::string> PeerTransport::start() {
  // Snapshots staged by an earlier run were never installed (or are the database an install
  // swapped out just before a crash): nothing in the directory is worth keeping.
  std::error_code fs_ec;
  std::filesystem::remove_all(config_.snapshot_dir, fs_ec);
  if (!fs_ec) std::filesystem::create_directories(config_.snapshot_dir, fs_ec);
  if (fs_ec) return "cannot create " + config_.snapshot_dir.string() + ": " + fs_ec.message();
  CHECK(!config_.listen.empty(), "peer transport without a listen address");
  for (const tcp::endpoint& endpoint : config_.listen) {
    tcp::acceptor& acceptor = acceptors_.emplace_back(strand_);
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptors_.clear();
      return "listen tcp " + endpoint.address().to_string() + ":" +
             std::to_string(endpoint.port()) + ": " + ec.message();
    }
  }
  for (tcp::acceptor& acceptor : acceptors_) {
    local_endpoints_.push_back(acceptor.local_endpoint());
    asio::co_spawn(strand_, accept_loop(acceptor), asio::detached);
  }
  return {};
}

void PeerTransport::stop() {
  asio::post(strand_, [this] {
    stopped_ = true;
    beast::error_code ignored;
    for (tcp::acceptor& acceptor : acceptors_) acceptor.close(ignored);
    for (auto& [id, peer] : peers_) {
      peer->removed = true;
      drop_queue(*peer);
      close_stream(*peer);
      peer->wake->cancel();
    }
    peers_.clear();
    inbound_.clear();
    // Dials, handshakes and snapshot transfers in progress end now, not at their deadlines.
    for (const StreamPtr& stream : streams_) close(*stream);
    streams_.clear();
  });
}

PeerAddress PeerAddress::of(const tcp::endpoint& endpoint) {
  return {endpoint.address().to_string(), std::to_string(endpoint.port())};
}

void PeerTransport::add_peer(std::uint64_t id, PeerAddress address) {
  asio::post(strand_, [this, id, address = std::move(address)] {
    if (stopped_ || peers_.contains(id)) return;
    auto peer = std::make_shared<Peer>();
    peer->id = id;
    peer->address = address;
    peer->wake = std::make_unique<asio::steady_timer>(strand_);
    peers_.emplace(id, peer);
    asio::co_spawn(strand_, run_peer(peer), asio::detached);
  });
}

void PeerTransport::remove_peer(std::uint64_t id) {
  asio::post(strand_, [this, id] {
    const auto it = peers_.find(id);
    if (it == peers_.end()) return;
    Peer& peer = *it->second;
    peer.removed = true;
    drop_queue(peer);
    close_stream(peer);
    peer.wake->cancel();
    peers_.erase(it);
    // A removed member's own connection to us goes too; it may not come back.
    const auto [first, last] = inbound_.equal_range(id);
    for (auto in = first; in != last; ++in) close(*in->second);
  });
}

void PeerTransport::update_peer(std::uint64_t id, PeerAddress address) {
  asio::post(strand_, [this, id, address = std::move(address)] {
    const auto it = peers_.find(id);
    if (it == peers_.end()) return;
    Peer& peer = *it->second;
    peer.address = address;
    peer.failures = 0;
    close_stream(peer);
    peer.wake->cancel();  // cuts a back-off short: the new address deserves a try now
  });
}

bool PeerTransport::send(std::vector<raft::pb::Message> messages) {
  for (const raft::pb::Message& message : messages) {
    CHECK(message.type() != raft::pb::MsgSnap, "MsgSnap to {} must go through send_snapshot",
          message.to());
  }
  std::set<std::uint64_t> touched;
  for (const raft::pb::Message& message : messages) touched.insert(message.to());
  // Inline only when nothing sent earlier still waits in a posted handler, and every peer is
  // known here: add_peer() posts too, and messages must not overtake either.
  bool inline_now = config_.inline_writes && posted_sends_ == 0;
  for (const std::uint64_t id : touched) inline_now = inline_now && peers_.contains(id);
  if (!inline_now) {
    ++posted_sends_;
    asio::post(strand_, [this, messages = std::move(messages)]() mutable {
      --posted_sends_;
      do_send(messages);
    });
    return false;
  }
  // The caller runs on the only thread of the io_context, so the strand's state is ours here. A
  // leader that writes its own batch inline right after this call thus has its appends on the
  // wire first, without waiting for handlers that the sync would hold up.
  do_send(messages);
  bool all_written = true;
  for (const std::uint64_t id : touched) {
    const auto it = peers_.find(id);
    if (it == peers_.end()) continue;
    write_now(*it->second);
    all_written = all_written && it->second->queue.empty();
  }
  return all_written;
}

void PeerTransport::do_send(std::vector<raft::pb::Message>& messages) {
  for (raft::pb::Message& message : messages) {
    const auto it = stopped_ ? peers_.end() : peers_.find(message.to());
    if (it == peers_.end()) {
      metrics_.dropped_messages.inc();
      continue;
    }
    pb::Envelope envelope;
    *envelope.mutable_message() = std::move(message);
    std::string frame;
    append_frame(frame, envelope);
    // Only an idle connected writer waits for messages; a writer in back-off keeps its delay.
    // With inline writes the writer is woken only for what send() could not write.
    Peer& peer = *it->second;
    if (enqueue(peer, std::move(frame)) && peer.stream && !config_.inline_writes) {
      peer.wake->cancel();
    }
  }
}

bool PeerTransport::enqueue(Peer& peer, std::string frame) {
  if (peer.queue.size() >= config_.queue_messages_max ||
      peer.queue_bytes + frame.size() > config_.queue_bytes_max ||
      frame.size() > config_.frame_bytes_max + kFrameHeaderBytes) {
    metrics_.dropped_messages.inc();
    return false;
  }
  peer.queue_bytes += frame.size();
  peer.queue.push_back(std::move(frame));
  return true;
}

void PeerTransport::write_now(Peer& peer) {
  if (peer.queue.empty()) return;
  if (peer.stream && !peer.writing) {
    std::vector<asio::const_buffer> buffers;
    std::size_t bytes = 0;
    for (const std::string& frame : peer.queue) {
      if (!buffers.empty() && bytes + frame.size() > config_.write_batch_bytes_max) break;
      buffers.emplace_back(asio::buffer(frame));
      bytes += frame.size();
    }
    tcp::socket& socket = peer.stream->socket();
    boost::system::error_code ec;
    // Set once per connection (each setting is a system call); the writer's own async writes
    // do not depend on it.
    if (!socket.non_blocking()) socket.non_blocking(true, ec);
    // Errors (would_block included) leave the queue whole: the writer retries, and a broken
    // connection is noticed and handled there.
    std::size_t written = ec ? 0 : socket.write_some(buffers, ec);
    std::uint64_t count = 0;
    while (written > 0) {
      std::string& front = peer.queue.front();
      const std::size_t taken = std::min(written, front.size());
      written -= taken;
      peer.queue_bytes -= taken;
      if (taken < front.size()) {
        front.erase(0, taken);  // the rest of a frame cut short goes first next time
        break;
      }
      peer.queue.pop_front();
      ++count;
    }
    if (count > 0) {
      metrics_.sent_messages.inc(count);
      peer.failures = 0;
    }
  }
  if (!peer.queue.empty() && peer.stream) peer.wake->cancel();
}

void PeerTransport::drop_queue(Peer& peer) {
  metrics_.dropped_messages.inc(peer.queue.size());
  peer.queue.clear();
  peer.queue_bytes = 0;
}

void PeerTransport::release(const StreamPtr& stream) {
  close(*stream);
  streams_.erase(stream);
}

void PeerTransport::close_stream(Peer& peer) {
  if (!peer.stream) return;
  release(peer.stream);
  peer.stream.reset();
}

void PeerTransport::on_peer_failure(Peer& peer) {
  ++peer.failures;
  drop_queue(peer);
  if (peer.reported_unreachable) return;
  peer.reported_unreachable = true;
  spdlog::warn("peer {:x} at {}:{} unreachable; retrying with back-off", peer.id, peer.address.host,
               peer.address.port);
  if (handlers_.on_unreachable) {
    asio::post(handler_executor_,
               [handler = handlers_.on_unreachable, id = peer.id] { handler(id); });
  }
}

std::chrono::milliseconds PeerTransport::backoff(int failures) {
  // Exponential from backoff_initial up to backoff_max, then a uniform pick in [half, all] of it,
  // so members that lost the same peer do not redial it in lock step.
  const int doublings = std::min(std::max(failures - 1, 0), 20);
  const auto full =
      std::min(config_.backoff_initial * (std::int64_t{1} << doublings), config_.backoff_max);
  std::uniform_int_distribution<std::int64_t> pick(full.count() / 2, full.count());
  return std::chrono::milliseconds{pick(rng_)};
}

asio::awaitable<void> PeerTransport::run_peer(PeerPtr peer) {
  while (!peer->removed && !stopped_) {
    if (!peer->stream) {
      // Every lost connection waits before the next dial, so a peer that accepts and then drops
      // us at once (or a bad network) costs one dial per back-off, not a busy loop. The count
      // resets only once a write went through (or update_peer() names a new address).
      if (peer->failures > 0) {
        peer->wake->expires_after(backoff(peer->failures));
        co_await peer->wake->async_wait(kAwait);
        if (peer->removed || stopped_) break;
      }
      const PeerAddress target = peer->address;
      StreamPtr stream = co_await dial(*peer, false);
      if (peer->removed || stopped_) {
        if (stream) release(stream);
        break;
      }
      if (stream && peer->address != target) {
        release(stream);  // update_peer() moved the peer while we dialed its old address
        continue;
      }
      if (!stream) {
        on_peer_failure(*peer);
        continue;
      }
      if (peer->reported_unreachable) {
        spdlog::info("peer {:x} reachable again after {} failures", peer->id, peer->failures);
      }
      peer->stream = stream;
      peer->reported_unreachable = false;
      asio::co_spawn(strand_, watch_outbound(peer, stream), asio::detached);
    }
    if (peer->queue.empty()) {
      peer->wake->expires_at(asio::steady_timer::time_point::max());
      co_await peer->wake->async_wait(kAwait);
      continue;
    }
    co_await write_queued(*peer);
  }
  close_stream(*peer);
}

asio::awaitable<std::tuple<beast::error_code, tcp::resolver::results_type>> PeerTransport::resolve(
    const PeerAddress& address, std::chrono::steady_clock::time_point deadline) {
  // Resolution has no deadline of its own (a DNS server may not answer for seconds): a timer
  // cancels it. Both handlers hold the resolver, so whichever runs last still finds it alive.
  auto resolver = std::make_shared<tcp::resolver>(strand_);
  asio::steady_timer timer(strand_, deadline);
  timer.async_wait([resolver](beast::error_code ec) {
    if (!ec) resolver->cancel();
  });
  auto result = co_await resolver->async_resolve(address.host, address.port, kAwait);
  timer.cancel();
  co_return result;
}

asio::awaitable<PeerTransport::StreamPtr> PeerTransport::dial(Peer& peer, bool snapshot) {
  auto stream = std::make_shared<beast::tcp_stream>(strand_);
  streams_.insert(stream);
  const auto deadline = std::chrono::steady_clock::now() + config_.dial_timeout;
  auto [resolve_ec, endpoints] = co_await resolve(peer.address, deadline);
  beast::error_code connect_ec = resolve_ec;
  if (!connect_ec) {
    stream->expires_at(deadline);
    std::tie(connect_ec, std::ignore) = co_await stream->async_connect(endpoints, kAwait);
  }
  if (connect_ec) {
    metrics_.send_failures.inc();
    release(stream);
    co_return nullptr;
  }
  beast::error_code ignored;
  stream->socket().set_option(tcp::no_delay(true), ignored);
  pb::Envelope hello;
  hello.mutable_hello()->set_cluster_id(config_.cluster_id);
  hello.mutable_hello()->set_from(config_.self_id);
  hello.mutable_hello()->set_to(peer.id);
  hello.mutable_hello()->set_snapshot(snapshot);
  FrameReader reader(kHelloBytesMax);
  ReadResult reply;
  if (const beast::error_code ec =
          co_await write_envelope(*stream, hello, config_.handshake_timeout);
      ec) {
    reply.ec = ec;
  } else {
    stream->expires_after(config_.handshake_timeout);
    reply = co_await read_envelope(*stream, reader, kHelloBytesMax);
  }
  if (!reply.envelope || !reply.envelope->has_hello_reply()) {
    metrics_.send_failures.inc();
    if (reply.frame_error || reply.envelope) {
      metrics_.malformed_frames.inc();
      spdlog::warn("peer {:x}: bad handshake reply from {}", peer.id, remote_text(*stream));
    }
    release(stream);
    co_return nullptr;
  }
  const pb::HelloReply& answer = reply.envelope->hello_reply();
  if (!answer.accepted() && answer.removed()) {
    release(stream);
    if (handlers_.on_removed) asio::post(handler_executor_, handlers_.on_removed);
    co_return nullptr;
  }
  if (!answer.accepted()) {
    metrics_.cluster_mismatches.inc();
    if (!peer.mismatch_logged) {
      peer.mismatch_logged = true;
      spdlog::error("peer {:x} at {} refused us (its cluster {:x}, ours {:x}): {}", peer.id,
                    remote_text(*stream), answer.cluster_id(), config_.cluster_id, answer.reason());
    }
    release(stream);
    co_return nullptr;
  }
  stream->expires_never();
  co_return stream;
}

asio::awaitable<void> PeerTransport::watch_outbound(PeerPtr peer, StreamPtr stream) {
  // The acceptor writes nothing after its HelloReply, so any byte, EOF or error here means the
  // connection is over: close it now rather than at the next write, and let the writer redial.
  // The read goes to the socket itself, bypassing the stream's write deadline.
  char byte = 0;
  co_await stream->socket().async_read_some(asio::buffer(&byte, 1), kAwait);
  if (peer->stream == stream) {
    close_stream(*peer);
    on_peer_failure(*peer);
    peer->wake->cancel();
  }
}

asio::awaitable<void> PeerTransport::write_queued(Peer& peer) {
  // The queued frames leave in one gathered write (no copy), up to write_batch_bytes_max.
  std::vector<std::string> frames;
  std::vector<asio::const_buffer> buffers;
  std::size_t bytes = 0;
  while (!peer.queue.empty() &&
         (frames.empty() || bytes + peer.queue.front().size() <= config_.write_batch_bytes_max)) {
    bytes += peer.queue.front().size();
    peer.queue_bytes -= peer.queue.front().size();
    frames.push_back(std::move(peer.queue.front()));
    peer.queue.pop_front();
  }
  buffers.reserve(frames.size());
  for (const std::string& frame : frames) buffers.emplace_back(asio::buffer(frame));
  const std::uint64_t count = frames.size();
  const StreamPtr stream = peer.stream;
  stream->expires_after(config_.write_timeout);
  peer.writing = true;
  auto [ec, n] = co_await asio::async_write(*stream, buffers, kAwait);
  peer.writing = false;
  if (ec) {
    metrics_.dropped_messages.inc(count);
    if (peer.stream == stream) {
      metrics_.send_failures.inc();
      spdlog::warn("peer {:x}: write failed: {}", peer.id, ec.message());
      close_stream(peer);
      on_peer_failure(peer);
    }
    co_return;
  }
  stream->expires_never();
  metrics_.sent_messages.inc(count);
  peer.failures = 0;
}

void PeerTransport::send_snapshot(raft::pb::Message message, std::filesystem::path checkpoint_dir) {
  CHECK(message.type() == raft::pb::MsgSnap, "send_snapshot of a {} message",
        raft::pb::MessageType_Name(message.type()));
  // The snapshot's data is empty (its content is the checkpoint), so Node makes one MsgSnap.
  CHECK(message.snapshot_offset() == 0 && message.snapshot_done(),
        "MsgSnap to {} is a chunk at {} of a snapshot carrying data", message.to(),
        message.snapshot_offset());
  asio::post(
      strand_, [this, message = std::move(message), dir = std::move(checkpoint_dir)]() mutable {
        const auto it = stopped_ ? peers_.end() : peers_.find(message.to());
        if (it == peers_.end() || it->second->snapshot_in_flight) {
          metrics_.snapshot_failures.inc();
          if (handlers_.on_snapshot_sent) {
            asio::post(handler_executor_, [handler = handlers_.on_snapshot_sent,
                                           to = message.to()] { handler(to, false); });
          }
          return;
        }
        it->second->snapshot_in_flight = true;
        asio::co_spawn(strand_, send_snapshot_job(it->second, std::move(message), std::move(dir)),
                       asio::detached);
      });
}

asio::awaitable<void> PeerTransport::send_snapshot_job(PeerPtr peer, raft::pb::Message message,
                                                       std::filesystem::path dir) {
  const StreamPtr stream = co_await dial(*peer, true);
  bool ok = false;
  if (stream) {
    ok = co_await stream_snapshot(*stream, message, dir);
    release(stream);
  }
  peer->snapshot_in_flight = false;
  if (ok) {
    metrics_.snapshots_sent.inc();
    spdlog::info("snapshot at {} sent to peer {:x}", message.snapshot().metadata().index(),
                 peer->id);
  } else {
    metrics_.snapshot_failures.inc();
    spdlog::warn("snapshot at {} to peer {:x} failed", message.snapshot().metadata().index(),
                 peer->id);
  }
  if (handlers_.on_snapshot_sent) {
    asio::post(handler_executor_,
               [handler = handlers_.on_snapshot_sent, id = peer->id, ok] { handler(id, ok); });
  }
}

asio::awaitable<bool> PeerTransport::stream_snapshot(beast::tcp_stream& stream,
                                                     const raft::pb::Message& message,
                                                     const std::filesystem::path& dir) {
  auto files = list_checkpoint(dir);
  if (!files) {
    spdlog::error("snapshot to peer {:x}: {}", message.to(), files.error());
    co_return false;
  }
  SnapshotFileReader reader(dir, std::move(*files), config_.snapshot_chunk_bytes);
  for (;;) {
    auto chunk = reader.next();
    if (!chunk) {
      spdlog::error("snapshot to peer {:x}: {}", message.to(), chunk.error());
      co_return false;
    }
    if (!*chunk) break;
    pb::Envelope envelope;
    *envelope.mutable_snapshot_chunk() = std::move(**chunk);
    if (co_await write_envelope(stream, envelope, config_.snapshot_timeout)) co_return false;
  }
  pb::Envelope last;
  *last.mutable_message() = message;
  if (co_await write_envelope(stream, last, config_.snapshot_timeout)) co_return false;
  FrameReader ack_reader(kHelloBytesMax);
  stream.expires_after(config_.snapshot_timeout);
  const ReadResult ack = co_await read_envelope(stream, ack_reader, kHelloBytesMax);
  co_return ack.envelope&& ack.envelope->has_snapshot_ack() && ack.envelope->snapshot_ack().ok();
}

asio::awaitable<void> PeerTransport::accept_loop(tcp::acceptor& acceptor) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kAwait);
    if (ec == asio::error::operation_aborted || stopped_) co_return;
    if (ec) {
      // Out of descriptors and the like: keep the connections we have.
      spdlog::warn("peer accept: {}", ec.message());
      continue;
    }
    if (inbound_count_ >= config_.inbound_connections_max) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(strand_, serve_inbound(std::make_shared<beast::tcp_stream>(std::move(socket))),
                   asio::detached);
  }
}

asio::awaitable<void> PeerTransport::serve_inbound(StreamPtr stream) {
  ++inbound_count_;
  streams_.insert(stream);
  // Until the dialer has proved it belongs to this cluster it may send one small frame: nobody
  // gets to make us buffer a full-size frame unannounced.
  FrameReader reader(kHelloBytesMax);
  stream->expires_after(config_.handshake_timeout);
  const ReadResult first = co_await read_envelope(*stream, reader, kHelloBytesMax);
  if (first.envelope && first.envelope->has_hello()) {
    const pb::Hello hello = first.envelope->hello();
    if (co_await accept_hello(*stream, hello)) {
      reader.set_frame_bytes_max(config_.frame_bytes_max);
      stream->expires_never();
      if (hello.snapshot()) {
        co_await receive_snapshot(*stream, reader, hello);
      } else {
        co_await read_messages(stream, reader, hello);
      }
    }
  } else if (first.envelope && first.envelope->has_members_query() && handlers_.on_members_query) {
    pb::Envelope reply;
    *reply.mutable_members_reply() = handlers_.on_members_query();
    co_await write_envelope(*stream, reply, config_.handshake_timeout);
  } else if (first.envelope || first.frame_error) {
    metrics_.malformed_frames.inc();
    spdlog::warn("peer connection from {}: {} instead of a handshake", remote_text(*stream),
                 first.frame_error ? to_string(*first.frame_error) : "another frame");
  }
  release(stream);
  --inbound_count_;
}

asio::awaitable<bool> PeerTransport::accept_hello(beast::tcp_stream& stream,
                                                  const pb::Hello& hello) {
  pb::Envelope reply;
  pb::HelloReply& answer = *reply.mutable_hello_reply();
  answer.set_cluster_id(config_.cluster_id);
  if (stopped_) {
    answer.set_reason("member stopping");
  } else if (hello.cluster_id() != config_.cluster_id) {
    answer.set_reason(
        fmt::format("cluster id mismatch: {:x} != {:x}", hello.cluster_id(), config_.cluster_id));
  } else if (handlers_.is_removed && handlers_.is_removed(hello.from())) {
    answer.set_reason("the member has been permanently removed from the cluster");
    answer.set_removed(true);
  } else if (hello.to() != config_.self_id || hello.from() == 0 ||
             hello.from() == config_.self_id) {
    answer.set_reason(fmt::format("member id mismatch: dialed {:x} from {:x}, this is {:x}",
                                  hello.to(), hello.from(), config_.self_id));
  } else {
    answer.set_accepted(true);
  }
  if (!answer.accepted() && !stopped_) {
    metrics_.cluster_mismatches.inc();
    if (mismatch_logged_.size() < kMismatchLogMax && mismatch_logged_.insert(hello.from()).second) {
      spdlog::error("refused peer {:x} from {}: {}", hello.from(), remote_text(stream),
                    answer.reason());
    }
  }
  const beast::error_code ec = co_await write_envelope(stream, reply, config_.handshake_timeout);
  co_return !ec && answer.accepted();
}

bool PeerTransport::valid_message(const raft::pb::Message& message, const pb::Hello& hello,
                                  beast::tcp_stream& stream) {
  if (message.from() == hello.from() && message.to() == config_.self_id) return true;
  metrics_.malformed_frames.inc();
  spdlog::warn("peer {:x} at {}: message from {:x} to {:x} on its connection; closing",
               hello.from(), remote_text(stream), message.from(), message.to());
  return false;
}

// Moves every complete raft message out of `reader` into `batch`. False when the stream broke
// its contract (a bad frame, or something other than a message from its dialer) and must close.
bool PeerTransport::drain_messages(FrameReader& reader, const pb::Hello& hello,
                                   beast::tcp_stream& stream,
                                   std::vector<raft::pb::Message>& batch) {
  for (;;) {
    auto next = reader.next();
    if (!next) {
      metrics_.malformed_frames.inc();
      spdlog::warn("peer {:x} at {}: {}; closing", hello.from(), remote_text(stream),
                   to_string(next.error()));
      return false;
    }
    if (!*next) return true;
    pb::Envelope& envelope = **next;
    if (!envelope.has_message() || envelope.message().type() == raft::pb::MsgSnap) {
      metrics_.malformed_frames.inc();
      spdlog::warn("peer {:x} at {}: unexpected frame on a message stream; closing", hello.from(),
                   remote_text(stream));
      return false;
    }
    if (!valid_message(envelope.message(), hello, stream)) return false;
    batch.push_back(std::move(*envelope.mutable_message()));
  }
}

asio::awaitable<void> PeerTransport::read_messages(StreamPtr stream, FrameReader& reader,
                                                   const pb::Hello& hello) {
  // A newer connection from the same member replaces an older one, which is then half-open or
  // about to close: keeping one per dialer bounds what a flapping peer can hold open.
  const auto [first, last] = inbound_.equal_range(hello.from());
  for (auto it = first; it != last; ++it) close(*it->second);
  inbound_.erase(hello.from());
  inbound_.emplace(hello.from(), stream);
  for (;;) {
    std::vector<raft::pb::Message> batch;
    const bool ok = drain_messages(reader, hello, *stream, batch);
    if (!batch.empty() && !stopped_) deliver(std::move(batch));
    if (!ok) break;
    const std::span<char> space = reader.prepare(config_.read_bytes);
    auto [ec, n] =
        co_await stream->async_read_some(asio::buffer(space.data(), space.size()), kAwait);
    if (ec) break;
    reader.commit(n);
  }
  const auto [from, to] = inbound_.equal_range(hello.from());
  for (auto it = from; it != to; ++it) {
    if (it->second == stream) {
      inbound_.erase(it);
      break;
    }
  }
}

void PeerTransport::deliver(std::vector<raft::pb::Message> messages) {
  metrics_.received_messages.inc(messages.size());
  if (!handlers_.on_message) return;
  asio::post(handler_executor_,
             [handler = handlers_.on_message, messages = std::move(messages)]() mutable {
               for (raft::pb::Message& message : messages) handler(std::move(message));
             });
}

asio::awaitable<void> PeerTransport::receive_snapshot(beast::tcp_stream& stream,
                                                      FrameReader& reader, const pb::Hello& hello) {
  const std::filesystem::path dir =
      config_.snapshot_dir / fmt::format("{:x}-{}", hello.from(), ++snapshot_serial_);
  auto writer = SnapshotFileWriter::create(dir, config_.snapshot_bytes_max);
  if (!writer) {
    metrics_.snapshot_failures.inc();
    spdlog::error("snapshot from peer {:x}: {}", hello.from(), writer.error());
    co_return;
  }
  for (;;) {
    stream.expires_after(config_.snapshot_timeout);
    ReadResult got = co_await read_envelope(stream, reader, config_.read_bytes);
    if (!got.envelope) {
      if (got.frame_error) metrics_.malformed_frames.inc();
      metrics_.snapshot_failures.inc();
      spdlog::warn("snapshot from peer {:x} broken off: {}", hello.from(),
                   got.frame_error ? to_string(*got.frame_error) : got.ec.message());
      co_return;
    }
    if (got.envelope->has_snapshot_chunk()) {
      if (auto written = (*writer)->write(got.envelope->snapshot_chunk()); !written) {
        metrics_.snapshot_failures.inc();
        spdlog::warn("snapshot from peer {:x}: {}", hello.from(), written.error());
        co_return;
      }
      continue;
    }
    const bool is_snap =
        got.envelope->has_message() && got.envelope->message().type() == raft::pb::MsgSnap;
    if (!is_snap || !valid_message(got.envelope->message(), hello, stream)) {
      if (!is_snap) metrics_.malformed_frames.inc();
      metrics_.snapshot_failures.inc();
      co_return;
    }
    if (auto finished = (*writer)->finish(); !finished) {
      metrics_.snapshot_failures.inc();
      spdlog::error("snapshot from peer {:x}: {}", hello.from(), finished.error());
      co_return;
    }
    metrics_.snapshots_received.inc();
    spdlog::info("snapshot at {} received from peer {:x} into {}",
                 got.envelope->message().snapshot().metadata().index(), hello.from(), dir.string());
    if (handlers_.on_snapshot && !stopped_) {
      asio::post(handler_executor_, [handler = handlers_.on_snapshot,
                                     message = std::move(*got.envelope->mutable_message()),
                                     dir] { handler(message, dir); });
    }
    pb::Envelope ack;
    ack.mutable_snapshot_ack()->set_ok(true);
    co_await write_envelope(stream, ack, config_.snapshot_timeout);
    co_return;
  }
}

}  // namespace discovery::server
