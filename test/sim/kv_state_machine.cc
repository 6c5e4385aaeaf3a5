#include "test/sim/kv_state_machine.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "common/check.h"

namespace raft::sim {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

uint64_t fnv1a(std::string_view bytes, uint64_t hash) {
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string encode_put(const Put& put) {
  return fmt::format("put {} {} {}", put.op, put.key, put.value);
}

std::optional<Put> decode_put(std::string_view data) {
  const auto parts = split(data, ' ');
  if (parts.size() != 4 || parts[0] != "put") return std::nullopt;
  auto op = parse_u64(parts[1]);
  if (!op) return std::nullopt;
  return Put{*op, std::string(parts[2]), std::string(parts[3])};
}

void KvStateMachine::apply(const pb::Entry& entry) {
  CHECK(entry.index() == applied_ + 1, "applying {} after {}", entry.index(), applied_);
  applied_ = entry.index();
  const std::string head =
      fmt::format("{}/{}/{}/", entry.index(), entry.term(), static_cast<int>(entry.type()));
  chain_ = fnv1a(entry.data(), fnv1a(head, chain_));
  if (entry.type() != pb::EntryNormal) return;
  if (auto put = decode_put(entry.data())) kv_[put->key] = put->value;
}

std::optional<std::string> KvStateMachine::get(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::nullopt;
  return it->second;
}

std::string KvStateMachine::serialize() const {
  std::string out = fmt::format("{} {}", applied_, chain_);
  for (const auto& [key, value] : kv_) out += fmt::format("\n{} {}", key, value);
  return out;
}

std::optional<KvStateMachine> KvStateMachine::restore(std::string_view data) {
  const auto lines = split(data, '\n');
  const auto head = split(lines.at(0), ' ');
  if (head.size() != 2) return std::nullopt;
  KvStateMachine sm;
  auto applied = parse_u64(head[0]);
  auto chain = parse_u64(head[1]);
  if (!applied || !chain) return std::nullopt;
  sm.applied_ = *applied;
  sm.chain_ = *chain;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto kv = split(lines[i], ' ');
    if (kv.size() != 2) return std::nullopt;
    sm.kv_[std::string(kv[0])] = std::string(kv[1]);
  }
  return sm;
}

}  // namespace raft::sim
