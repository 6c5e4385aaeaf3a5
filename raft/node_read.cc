// ReadIndex (Raft thesis §6.4): a read point that is linearizable without writing to the log.
#include "raft/node.h"

namespace raft {

Result<void> Node::read_index(std::string context) {
  pb::Message m;
  m.set_type(pb::MsgReadIndex);
  m.set_from(id_);
  m.set_context(std::move(context));
  return step(m);
}

// On the leader: records the commit index and confirms leadership with a heartbeat round. On a
// follower: forwards to the leader, which answers with MsgReadIndexResp.
Result<void> Node::handle_read_index(const pb::Message& m) {
  if (role_ != Role::Leader) {
    if (lead_ == kNone) return Error::ProposalDropped;
    pb::Message forward = m;
    forward.set_to(lead_);
    send(std::move(forward));
    return {};
  }
  // Until an entry of its term commits, a new leader's commit index may lag behind what an
  // earlier leader committed; the read waits for the no-op to commit.
  if (!committed_in_term()) {
    if (deferred_reads_.size() >= config_.max_pending_reads) return Error::ReadIndexQueueFull;
    deferred_reads_.push_back(m);
    return {};
  }
  if (read_only_.full()) return Error::ReadIndexQueueFull;
  ReadOnly::Request request{log_.committed(), m.context(), m.from()};
  if (voter_count() == 1 && promotable()) {
    answer_read(request);  // no one else could have been elected
    return {};
  }
  if (read_only_.add(std::move(request), id_)) broadcast_heartbeat(m.context());
  return {};
}

void Node::answer_read(const ReadOnly::Request& request) {
  if (request.from == id_ || request.from == kNone) {
    read_states_.push_back(ReadState{request.index, request.context});
    return;
  }
  pb::Message resp;
  resp.set_type(pb::MsgReadIndexResp);
  resp.set_to(request.from);
  resp.set_index(request.index);
  resp.set_context(request.context);
  send(std::move(resp));
}

void Node::handle_read_index_response(const pb::Message& m) {
  read_states_.push_back(ReadState{m.index(), m.context()});
}

void Node::release_deferred_reads() {
  if (deferred_reads_.empty() || !committed_in_term()) return;
  std::vector<pb::Message> deferred;
  deferred.swap(deferred_reads_);
  for (const pb::Message& m : deferred) (void)handle_read_index(m);
}

}  // namespace raft
