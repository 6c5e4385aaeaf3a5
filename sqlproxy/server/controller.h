#pragma once
// Controller: the seam between the data plane (listeners, sessions, admin) and the control plane
// that decides where sessions go. main() builds one, starts it on the control io_context, and
// hands its pickers to the listeners and its status to the admin server.
//
// Implementations in this directory: GaleraController (health/ monitor + routing/ router and
// session policy; the proxy's control plane) and StaticController (-plain-mysql: TCP
// reachability, first reachable is the writer; for plain MariaDB servers in tests).
//
// Duties of an implementation, in this order on every change of its view:
//   1. publish the new choice, so pick_writer()/pick_reader() stop returning a node at once;
//   2. registry.fence(name) for a node that turned offline, non-Primary, or a demoted writer
//      (so two nodes never take writes through this proxy);
//   3. registry.drain(name, drain_grace) for a node that turned draining (desync, maintenance);
//   4. registry.readmit(name) before routing to a node again;
//   5. log a writer change once, with its reason, and publish a new StatusSnapshot.
//
// Threads: start()/stop() and all probing run on the control io_context's thread.
// pick_writer()/pick_reader() and status() are called from session worker threads and the admin
// server: thread-safe, non-blocking (read an immutable published snapshot).

#include <boost/asio/io_context.hpp>

#include "sqlproxy/admin/status.h"
#include "sqlproxy/session/picker.h"
#include "sqlproxy/session/session_registry.h"

namespace sqlproxy::server {

class Controller : public admin::StatusSource {
 public:
  // `registry` outlives the controller. Returns at once; work continues on `io`.
  virtual void start(boost::asio::io_context& io, session::SessionRegistry& registry) = 0;
  // Stops probing (on the control thread). Pickers keep answering from the last view.
  virtual void stop() = 0;
  // The writable node for a new writer-port session, or why there is none.
  virtual session::PickResult pick_writer() const = 0;
  // A node for a new read-only-port session (least sessions among readers), or why none.
  virtual session::PickResult pick_reader() const = 0;
};

}  // namespace sqlproxy::server
