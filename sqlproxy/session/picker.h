#pragma once
// Picker: how a new client session learns which backend to connect to. The control plane (a
// static list today, the Galera health monitor and router later) supplies one Picker per
// listener: the writer listener's picks the one writable node, the read-only listener's picks a
// reader.
//
// Contract: called on a session worker thread for every new client, so it must be thread-safe,
// must not block (read a published snapshot, never probe) and should be cheap. It returns the
// backend or the reason there is none; the reason is sent to the client inside the MySQL ERR
// packet that replaces the greeting, so it must name the cause and carry no secret.

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

#include "common/result.h"

namespace sqlproxy::session {

struct BackendEndpoint {
  std::string name;                         // stable identity (e.g. "node1" or "10.0.0.5:3306")
  boost::asio::ip::tcp::endpoint endpoint;  // resolved address to connect to
};

using PickResult = common::Result<BackendEndpoint, std::string>;
using Picker = std::function<PickResult()>;

}  // namespace sqlproxy::session
