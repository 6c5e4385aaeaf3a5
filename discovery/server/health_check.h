#pragma once
// member_healthy: a member's health as etcd 3.4's /health judges it (etcdhttp checkHealth):
// unhealthy while it knows no leader; otherwise healthy only if a quorum read (etcd's v2 QGET
// through raft) comes back within a deadline. etcd 3.4.23 does the read with or without
// ?serializable=true, so this takes no such option.
//
// wait_for_leader: waits until the member knows a leader. etcd's raft node takes no proposal
// while its member knows none, so etcd holds a write or quorum read made during an election
// until a leader is elected or its request timeout (kRequestTimeout) passes; clients wait on it.
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

// etcd's request timeout for client requests through raft (seven seconds).
inline constexpr std::chrono::milliseconds kRequestTimeout{7000};

// Completes true as soon as member.node().leader() is known (at once if it is), false when
// `deadline` passed first. Polls every tick of the member's clock (no event to wait on).
boost::asio::awaitable<bool> wait_for_leader(const Member& member,
                                             std::chrono::milliseconds deadline = kRequestTimeout);

boost::asio::awaitable<bool> member_healthy(
    Member& member, std::chrono::milliseconds read_deadline = kHealthReadDeadline);

}  // namespace discovery::server
