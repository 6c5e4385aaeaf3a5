#include "discovery/api/keys_request.h"

#include "discovery/api/form.h"

namespace discovery::api {
namespace {

using store::Error;
using store::ErrorCode;

Error parse_error(ErrorCode code, std::string cause) { return Error{code, std::move(cause), 0}; }

// etcd's getUint64: only a present name is checked, and its first value must parse.
bool read_uint64(const FormValues& form, std::string_view name, std::uint64_t& out) {
  if (!form.has(name)) return true;
  const auto v = parse_go_uint64(form.get(name));
  if (!v) return false;
  out = *v;
  return true;
}

bool read_bool(const FormValues& form, std::string_view name, bool& out) {
  if (!form.has(name)) return true;
  const auto v = parse_go_bool(form.get(name));
  if (!v) return false;
  out = *v;
  return true;
}

std::optional<KeysMethod> keys_method(std::string_view method) {
  if (method == "GET") return KeysMethod::Get;
  if (method == "HEAD") return KeysMethod::Head;
  if (method == "PUT") return KeysMethod::Put;
  if (method == "POST") return KeysMethod::Post;
  if (method == "DELETE") return KeysMethod::Delete;
  return std::nullopt;
}

// The boolean flags in the order etcd checks them (after prevIndex and waitIndex).
std::optional<Error> read_flags(const FormValues& form, KeysRequest& r) {
  const std::pair<std::string_view, bool*> flags[] = {
      {"recursive", &r.recursive}, {"sorted", &r.sorted}, {"wait", &r.wait}, {"dir", &r.dir},
      {"quorum", &r.quorum},       {"stream", &r.stream},
  };
  for (const auto& [name, field] : flags) {
    if (!read_bool(form, name, *field)) {
      return parse_error(ErrorCode::InvalidField,
                         "invalid value for \"" + std::string(name) + "\"");
    }
  }
  return std::nullopt;
}

// prevExist and refresh are nullable in etcd and their causes carry no quotes.
std::optional<Error> read_nullable_flags(const FormValues& form, KeysRequest& r) {
  if (form.has("prevExist")) {
    const auto v = parse_go_bool(form.get("prevExist"));
    if (!v) return parse_error(ErrorCode::InvalidField, "invalid value for prevExist");
    r.prev_exist = *v;
  }
  if (form.has("refresh")) {
    const auto v = parse_go_bool(form.get("refresh"));
    if (!v) return parse_error(ErrorCode::InvalidField, "invalid value for refresh");
    r.refresh = *v;
    if (*v) {
      if (!form.get("value").empty()) {
        return parse_error(ErrorCode::RefreshValue, "A value was provided on a refresh");
      }
      if (!r.ttl_seconds) return parse_error(ErrorCode::RefreshTtlRequired, "No TTL value set");
    }
  }
  return std::nullopt;
}

}  // namespace

common::Result<KeysRequest, store::Error> parse_keys_request(std::string_view method,
                                                             std::string_view path,
                                                             std::string_view raw_query,
                                                             std::string_view content_type,
                                                             std::string_view body) {
  auto form = parse_form(method, content_type, body, raw_query);
  if (!form) return parse_error(ErrorCode::InvalidForm, form.error().text);
  const auto m = keys_method(method);
  if (!m || path.substr(0, 8) != "/v2/keys") {
    return parse_error(ErrorCode::InvalidForm, "incorrect key prefix");
  }
  KeysRequest r;
  r.method = *m;
  r.key = go_path_clean("/" + std::string(path.substr(8)));
  if (!read_uint64(*form, "prevIndex", r.prev_index)) {
    return parse_error(ErrorCode::IndexNan, "invalid value for \"prevIndex\"");
  }
  if (!read_uint64(*form, "waitIndex", r.wait_index)) {
    return parse_error(ErrorCode::IndexNan, "invalid value for \"waitIndex\"");
  }
  if (auto error = read_flags(*form, r)) return *error;
  if (r.wait && r.method != KeysMethod::Get) {
    return parse_error(ErrorCode::InvalidField, "\"wait\" can only be used with GET requests");
  }
  r.prev_value = std::string(form->get("prevValue"));
  if (form->has("prevValue") && r.prev_value.empty()) {
    return parse_error(ErrorCode::PrevValueRequired, "\"prevValue\" cannot be empty");
  }
  if (!read_bool(*form, "noValueOnSuccess", r.no_value_on_success)) {
    return parse_error(ErrorCode::InvalidField, "invalid value for \"noValueOnSuccess\"");
  }
  if (!form->get("ttl").empty()) {
    const auto ttl = parse_go_uint64(form->get("ttl"));
    if (!ttl) return parse_error(ErrorCode::TtlNan, "invalid value for \"ttl\"");
    r.ttl_seconds = *ttl;
  }
  if (auto error = read_nullable_flags(*form, r)) return *error;
  r.value = std::string(form->get("value"));
  return r;
}

common::Result<KeysRequest, store::Error> parse_keys_request(const Request& request) {
  auto target = parse_target(request.target());
  if (!target) return parse_error(ErrorCode::InvalidForm, target.error().text);
  return parse_keys_request(request.method_string(), target->path, target->raw_query,
                            request[http::field::content_type], request.body());
}

store::pb::Command make_write_command(const KeysRequest& request, WallTime now) {
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
  store::pb::Command command;
  command.set_time_unix_ns(now_ns.count());
  store::pb::Write& w = *command.mutable_write();
  switch (request.method) {
    case KeysMethod::Put:
      w.set_method(store::pb::Write::PUT);
      break;
    case KeysMethod::Post:
      w.set_method(store::pb::Write::POST);
      break;
    case KeysMethod::Delete:
      w.set_method(store::pb::Write::DELETE);
      break;
    case KeysMethod::Get:
    case KeysMethod::Head:
      w.set_method(store::pb::Write::METHOD_UNSPECIFIED);
      break;
  }
  w.set_key(request.key);
  w.set_value(request.value);
  w.set_dir(request.dir);
  w.set_prev_value(request.prev_value);
  w.set_prev_index(request.prev_index);
  if (request.prev_exist) w.set_prev_exist(*request.prev_exist);
  w.set_recursive(request.recursive);
  w.set_refresh(request.refresh.value_or(false));
  if (request.ttl_seconds) {
    // Go: time.Duration(ttl) * time.Second wraps in int64, and UnixNano of the sum wraps again;
    // unsigned arithmetic modulo 2^64 gives the same bits.
    const std::uint64_t ttl_ns = *request.ttl_seconds * 1'000'000'000ULL;
    const std::uint64_t expiration = static_cast<std::uint64_t>(now_ns.count()) + ttl_ns;
    w.set_expiration_unix_ns(static_cast<std::int64_t>(expiration));
  }
  return command;
}

}  // namespace discovery::api
