// Replays a golden trace recorded from etcd 3.4.23 (testdata/record_etcd_trace.py: 2000 random
// v2 requests without TTLs or watches) and requires the Store to give the same answer to every
// request: action, node, prevNode, error code, cause and index, the same index afterwards, and the
// same /v2/stats/store counters at the end.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "discovery/store/store.h"
#include "discovery/store/store_test_util.h"

namespace discovery::store {
namespace {

namespace json = boost::json;
using namespace testing;  // NOLINT(google-build-using-namespace)

// The node as etcd's encoder writes it, without TTL fields (the trace has no TTLs).
json::object to_json(const NodeView& node) {
  json::object out;
  if (!node.key.empty()) out["key"] = node.key;
  if (node.dir) out["dir"] = true;
  if (node.value) out["value"] = *node.value;
  if (!node.nodes.empty()) {
    json::array nodes;
    for (const NodeView& child : node.nodes) nodes.push_back(to_json(child));
    out["nodes"] = std::move(nodes);
  }
  if (node.modified_index != 0)
    out["modifiedIndex"] = static_cast<std::int64_t>(node.modified_index);
  if (node.created_index != 0) out["createdIndex"] = static_cast<std::int64_t>(node.created_index);
  return out;
}

json::object to_json(const Event& event) {
  json::object out;
  out["action"] = std::string{action_name(event.action)};
  out["node"] = to_json(event.node);
  if (event.prev_node) out["prevNode"] = to_json(*event.prev_node);
  return out;
}

json::object to_json(const Error& error) {
  json::object out;
  out["errorCode"] = static_cast<int>(error.code);
  out["message"] = std::string{error_message(error.code)};
  if (!error.cause.empty()) out["cause"] = error.cause;
  out["index"] = static_cast<std::int64_t>(error.index);
  return out;
}

std::string param(const json::object& params, std::string_view name) {
  const json::value* found = params.if_contains(name);
  return found == nullptr ? std::string{} : std::string{found->as_string()};
}

pb::Command write_command(const json::object& op) {
  const json::object& params = op.at("params").as_object();
  const std::string method{op.at("method").as_string()};
  pb::Command command;
  command.set_time_unix_ns(kT0);
  pb::Write& write = *command.mutable_write();
  write.set_method(method == "PUT"    ? pb::Write::PUT
                   : method == "POST" ? pb::Write::POST
                                      : pb::Write::DELETE);
  write.set_key(std::string{op.at("key").as_string()});
  write.set_value(param(params, "value"));
  write.set_dir(param(params, "dir") == "true");
  write.set_recursive(param(params, "recursive") == "true");
  write.set_prev_value(param(params, "prevValue"));
  if (params.contains("prevIndex")) write.set_prev_index(std::stoull(param(params, "prevIndex")));
  if (params.contains("prevExist")) write.set_prev_exist(param(params, "prevExist") == "true");
  return command;
}

// Our answer to one recorded request, as etcd's JSON body.
json::object answer(Store& store, const json::object& op) {
  if (op.at("method").as_string() == "GET") {
    const json::object& params = op.at("params").as_object();
    auto result =
        store.get(op.at("key").as_string(), param(params, "recursive") == "true", true, at(kT0));
    return result ? to_json(*result) : to_json(result.error());
  }
  auto result = store.apply(write_command(op));
  if (!result) return to_json(result.error());
  return result->has_value() ? to_json(**result) : json::object{};
}

std::vector<json::object> read_trace() {
  std::ifstream in{std::string{STORE_TESTDATA_DIR} + "/etcd_v2_trace.jsonl"};
  std::vector<json::object> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line).as_object());
  return lines;
}

std::uint64_t counter(const json::object& stats, std::string_view name) {
  return stats.at(name).to_number<std::uint64_t>();
}

TEST(StoreTrace, MatchesEtcdAnswerForAnswer) {
  const std::vector<json::object> lines = read_trace();
  ASSERT_GT(lines.size(), 1000u);
  Store store;
  // Start at etcd's first index after its own membership writes, so indexes line up.
  ASSERT_TRUE(store.restore({}, lines.front().at("start_index").to_number<std::uint64_t>()));
  std::size_t requests = 0;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const json::object& op = lines[i];
    const json::object ours = answer(store, op);
    ASSERT_EQ(json::value(ours), op.at("body"))
        << "line " << i + 1 << ": " << json::serialize(op) << "\nours: " << json::serialize(ours);
    ASSERT_EQ(store.index(), op.at("etcd_index").to_number<std::uint64_t>()) << "line " << i + 1;
    ++requests;
  }
  store.check_invariants();
  const json::object& before = lines.front().at("stats").as_object();
  const json::object& after = lines.back().at("stats").as_object();
  const Stats& stats = store.stats();
  visit_stats(stats, [&](std::string_view name, std::uint64_t value) {
    std::uint64_t delta = counter(after, name) - counter(before, name);
    // etcd's auth check reads a missing key on every keys request: one more getsFail each.
    if (name == "getsFail") delta -= requests;
    EXPECT_EQ(value, delta) << name;
  });
}

}  // namespace
}  // namespace discovery::store
