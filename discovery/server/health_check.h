#pragma once
// member_healthy: a member's health as etcd 3.4's /health judges it (etcdhttp checkHealth):
// unhealthy while it knows no leader; otherwise healthy only if a quorum read (etcd's v2 QGET
// through raft) comes back within a deadline. etcd 3.4.23 does the read with or without
// ?serializable=true, so this takes no such option.
//
// Threads: call on the member's io thread, like every Member call. The read it starts may
// outlive the call (it ends at Member's own read timeout); it keeps what it needs alive itself,
// and the Member must outlive it, as it outlives every client request.

#include <boost/asio/awaitable.hpp>
#include <chrono>

#include "discovery/server/member.h"

namespace discovery::server {

// The deadline etcd 3.4 gives the read (one second).
inline constexpr std::chrono::milliseconds kHealthReadDeadline{1000};

boost::asio::awaitable<bool> member_healthy(
    Member& member, std::chrono::milliseconds read_deadline = kHealthReadDeadline);

}  // namespace discovery::server
