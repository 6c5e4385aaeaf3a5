#pragma once
// ApiHandler: serves etcd's client API (keys, members, machines, stats, version, health,
// metrics) for one member. api/ decides every byte of the answers; this class only fetches the
// facts (store results, membership, stats) and writes the answers, including long-lived watch
// streams.
//
// Ownership: owned by main() next to the Member it serves; both outlive every listener. Threads:
// runs on the single io thread, like Member.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "discovery/api/keys_request.h"
#include "discovery/api/render.h"
#include "discovery/api/response.h"
#include "discovery/api/route.h"
#include "discovery/server/config.h"
#include "discovery/server/http_listener.h"
#include "discovery/server/member.h"

namespace discovery::server {

class ApiHandler final : public RequestHandler {
 public:
  ApiHandler(const Config& config, Member& member, common::metrics::Registry& metrics);

  boost::asio::awaitable<bool> handle(boost::beast::tcp_stream& stream, Request request) override;
  boost::asio::awaitable<void> handle_broken_body(boost::beast::tcp_stream& stream, Request header,
                                                  std::string_view go_error) override;

 private:
  boost::asio::awaitable<api::Response> keys(const api::KeysRequest& keys,
                                             const api::ResponseMeta& meta);
  boost::asio::awaitable<bool> watch(boost::beast::tcp_stream& stream, const api::KeysRequest& keys,
                                     const api::ResponseMeta& meta);
  // etcd 3.4's /health: healthy only with a known leader and a quorum read that completes.
  boost::asio::awaitable<api::Response> health(const api::ResponseMeta& meta);
  api::Response serve(const api::Routed& routed, const Request& request,
                      const api::ResponseMeta& meta);
  api::Response change_members(const api::Routed& routed, const Request& request,
                               const api::ResponseMeta& meta);
  std::vector<api::Member> members() const;
  std::vector<std::string> machine_urls() const;
  api::Response leader_stats(const api::ResponseMeta& meta) const;
  api::SelfStats self_stats() const;
  api::RaftPosition raft_position() const;

  const Config& config_;
  Member& member_;
  common::metrics::Registry& metrics_;
  std::uint64_t member_id_;
  std::uint64_t cluster_id_;
  std::vector<std::string> client_urls_;
  common::WallTime start_time_;
  common::metrics::Counter& requests_;
  common::metrics::Counter& watch_streams_;
};

}  // namespace discovery::server
