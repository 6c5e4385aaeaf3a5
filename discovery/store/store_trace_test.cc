// Replays golden traces recorded from etcd 3.4.23 by testdata/record_etcd_trace.py and requires
// the Store to give the same answer to every request: action, node, prevNode, error code, cause
// and index, the same index afterwards, and the same /v2/stats/store counters at the end.
// etcd_v2_trace.jsonl: 2000 random writes and gets without TTLs. etcd_v2_trace_ttl_watch.jsonl:
// 1000 fill sets, then 2500 requests with long TTLs, refreshes and watches answered from history
// (or left waiting, or cleared); ttl and expiration values are masked there.
// etcd_v2_trace_live.jsonl: 600 requests with stream and one-shot watchers registered before them;
// every watcher must receive the same events. etcd_v2_trace_expire.jsonl: the same with 1 s TTLs
// and pauses in which etcd expired them.

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

// The node as etcd's encoder writes it, with the expiration masked to `true` and no ttl.
json::object to_json(const NodeView& node) {
  json::object out;
  if (!node.key.empty()) out["key"] = node.key;
  if (node.dir) out["dir"] = true;
  if (node.value) out["value"] = *node.value;
  if (node.expiration) out["expiration"] = true;
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

// Masks etcd's expiration and ttl values the way to_json(NodeView) renders ours.
void mask_ttl(json::value& value) {
  if (value.is_array()) {
    for (json::value& item : value.as_array()) mask_ttl(item);
    return;
  }
  if (!value.is_object()) return;
  json::object& object = value.as_object();
  object.erase("ttl");
  if (object.contains("expiration")) object["expiration"] = true;
  for (auto& [name, field] : object) mask_ttl(field);
}

std::string param(const json::object& params, std::string_view name) {
  const json::value* found = params.if_contains(name);
  return found == nullptr ? std::string{} : std::string{found->as_string()};
}

pb::Command write_command(const json::object& op, std::int64_t now) {
  const json::object& params = op.at("params").as_object();
  const std::string method{op.at("method").as_string()};
  pb::Command command;
  command.set_time_unix_ns(now);
  pb::Write& write = *command.mutable_write();
  write.set_method(method == "PUT"    ? pb::Write::PUT
                   : method == "POST" ? pb::Write::POST
                                      : pb::Write::DELETE);
  write.set_key(std::string{op.at("key").as_string()});
  write.set_value(param(params, "value"));
  write.set_dir(param(params, "dir") == "true");
  write.set_recursive(param(params, "recursive") == "true");
  write.set_refresh(param(params, "refresh") == "true");
  if (params.contains("ttl"))
    write.set_expiration_unix_ns(now + std::stoll(param(params, "ttl")) * kSecondNs);
  write.set_prev_value(param(params, "prevValue"));
  if (params.contains("prevIndex")) write.set_prev_index(std::stoull(param(params, "prevIndex")));
  if (params.contains("prevExist")) write.set_prev_exist(param(params, "prevExist") == "true");
  return command;
}

// A watch from the trace: answered from history, cleared, or left waiting (nullopt).
std::optional<json::object> watch_answer(Store& store, const json::object& op) {
  const json::object& params = op.at("params").as_object();
  auto started =
      store.watch(op.at("key").as_string(), param(params, "recursive") == "true", false,
                  std::stoull(param(params, "waitIndex")), [](const Event&) { return false; });
  if (!started) return to_json(started.error());
  EXPECT_EQ(started->etcd_index, store.index());
  if (started->event) return to_json(*started->event);
  store.cancel_watch(started->id);
  return std::nullopt;
}

// Our answer to one recorded request, as etcd's JSON body; nullopt for a watch left waiting.
std::optional<json::object> answer(Store& store, const json::object& op, std::int64_t now) {
  if (op.at("method").as_string() == "GET") {
    const json::object& params = op.at("params").as_object();
    if (params.contains("wait")) return watch_answer(store, op);
    auto result =
        store.get(op.at("key").as_string(), param(params, "recursive") == "true", true, at(now));
    if (!result) return to_json(result.error());
    return to_json(*result);
  }
  auto result = store.apply(write_command(op, now));
  if (!result) return to_json(result.error());
  if (!result->has_value()) return json::object{};
  return to_json(**result);
}

std::vector<json::object> read_trace(const std::string& name) {
  std::ifstream in{std::string{STORE_TESTDATA_DIR} + "/" + name};
  std::vector<json::object> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line).as_object());
  return lines;
}

std::uint64_t counter(const json::object& stats, std::string_view name) {
  return stats.at(name).to_number<std::uint64_t>();
}

// The live watchers of a trace, registered on `store`; each collects what it receives.
struct LiveWatchers {
  json::array specs;
  std::vector<json::array> received;
  std::vector<WatchId> ids;
};

void register_live(Store& store, const json::object& line, LiveWatchers& live) {
  live.specs = line.at("watchers").as_array();
  live.received.resize(live.specs.size());
  for (std::size_t i = 0; i < live.specs.size(); ++i) {
    const json::object& spec = live.specs[i].as_object();
    const bool stream = spec.at("stream").as_bool();
    auto started = store.watch(spec.at("key").as_string(), spec.at("recursive").as_bool(), stream,
                               0, [&live, i, stream](const Event& event) {
                                 live.received[i].push_back(to_json(event));
                                 return stream;
                               });
    ASSERT_TRUE(started && !started->event);
    live.ids.push_back(started->id);
  }
}

void expect_live(const LiveWatchers& live) {
  for (std::size_t i = 0; i < live.specs.size(); ++i) {
    json::value theirs = live.specs[i].at("events");
    mask_ttl(theirs);
    EXPECT_EQ(json::value(live.received[i]), theirs) << json::serialize(live.specs[i].at("key"));
  }
}

// Replays one trace file.
void replay(const std::string& name) {
  std::vector<json::object> lines = read_trace(name);
  ASSERT_GT(lines.size(), 400u);
  Store store;
  // Start at etcd's first index after its own membership writes, so indexes line up.
  ASSERT_TRUE(store.restore({}, lines.front().at("start_index").to_number<std::uint64_t>()));
  LiveWatchers live;
  if (lines[lines.size() - 2].contains("watchers")) {
    register_live(store, lines[lines.size() - 2], live);
    lines.erase(lines.end() - 2);
  }
  std::int64_t now = kT0;
  // The live watches were keys requests too.
  std::uint64_t requests = live.specs.size();
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const json::object& op = lines[i];
    if (op.contains("fill")) {
      const std::uint64_t fill = op.at("fill").to_number<std::uint64_t>();
      for (std::uint64_t n = 0; n < fill; ++n) {
        ok(store, Put(std::string{op.at("key").as_string()}).value(std::to_string(n)));
      }
      requests += fill;
    } else {
      // Requests are 1 ms apart; a sync line stands for etcd's 2.5 s pause, in which it expired
      // every 1 s TTL of the phase before.
      now += 1'000'000;
      if (op.contains("sync")) {
        now += 2'500'000'000;
        ASSERT_TRUE(store.apply(Sync(now)));
      }
      const std::optional<json::object> ours = answer(store, op, now);
      ASSERT_EQ(ours.has_value(), !op.contains("waiting"))
          << "line " << i + 1 << ": " << json::serialize(op);
      if (ours) {
        json::value theirs = op.at("body");
        mask_ttl(theirs);
        ASSERT_EQ(json::value(*ours), theirs) << "line " << i + 1 << ": " << json::serialize(op)
                                              << "\nours: " << json::serialize(*ours);
      }
      ++requests;
    }
    ASSERT_EQ(store.index(), op.at("etcd_index").to_number<std::uint64_t>()) << "line " << i + 1;
  }
  store.check_invariants();
  expect_live(live);
  // etcd's watchers were closed before its last stats.
  for (WatchId id : live.ids) store.cancel_watch(id);
  EXPECT_EQ(store.stats().watchers, 0u);
  const json::object& before = lines.front().at("stats").as_object();
  const json::object& after = lines.back().at("stats").as_object();
  visit_stats(store.stats(), [&](std::string_view stat, std::uint64_t value) {
    std::uint64_t delta = counter(after, stat) - counter(before, stat);
    // etcd's auth check reads a missing key on every keys request: one more getsFail each.
    if (stat == "getsFail") delta -= requests;
    EXPECT_EQ(value, delta) << stat;
  });
}

TEST(StoreTrace, PlainWritesAndGets) { replay("etcd_v2_trace.jsonl"); }

TEST(StoreTrace, TtlsRefreshesAndWatchHistory) { replay("etcd_v2_trace_ttl_watch.jsonl"); }

TEST(StoreTrace, LiveWatchers) { replay("etcd_v2_trace_live.jsonl"); }

TEST(StoreTrace, ExpiryWithLiveWatchers) { replay("etcd_v2_trace_expire.jsonl"); }

}  // namespace
}  // namespace discovery::store
