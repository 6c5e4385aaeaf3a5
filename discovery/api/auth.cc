#include "discovery/api/auth.h"

#include "discovery/api/render.h"

namespace discovery::api {
namespace {

constexpr std::string_view kRootRole =
    R"({"role":"root","permissions":{"kv":{"read":["/*"],"write":["/*"]}}})";

Response json_ok(std::string body, std::uint64_t cluster_id, const ResponseMeta& meta) {
  GoResponse r;
  r.headers = {{"Content-Type", "application/json"},
               {"X-Etcd-Cluster-Id", format_member_id(cluster_id)}};
  r.body = std::move(body);
  return finish(std::move(r), meta);
}

Response users(std::string_view method, std::string_view name, std::uint64_t cluster_id,
               const ResponseMeta& meta) {
  if (name.empty()) return json_ok("{\"users\":null}\n", cluster_id, meta);
  const std::string user(name);
  // etcd's texts differ between read and delete (a period only on the read).
  if (method == "GET") {
    return members_error_response(404, "auth: User " + user + " does not exist.", cluster_id, meta);
  }
  if (method == "DELETE") {
    return members_error_response(404, "auth: User " + user + " does not exist", cluster_id, meta);
  }
  return members_error_response(501, "auth: not supported by this server", cluster_id, meta);
}

Response roles(std::string_view method, std::string_view name, std::uint64_t cluster_id,
               const ResponseMeta& meta) {
  if (name.empty()) {
    return json_ok("{\"roles\":[" + std::string(kRootRole) + "]}\n", cluster_id, meta);
  }
  const std::string role(name);
  if (method == "GET") {
    if (name == "root") return json_ok(std::string(kRootRole) + "\n", cluster_id, meta);
    return members_error_response(404, "auth: Role " + role + " does not exist.", cluster_id, meta);
  }
  if (method == "DELETE") {
    if (name == "root") {
      return members_error_response(403, "auth: Cannot modify role root: is root role.", cluster_id,
                                    meta);
    }
    return members_error_response(404, "auth: Role " + role + " doesn't exist.", cluster_id, meta);
  }
  return members_error_response(501, "auth: not supported by this server", cluster_id, meta);
}

// The name after "/v2/auth/<collection>/", empty for the collection itself.
std::string_view item_name(std::string_view path, std::string_view collection) {
  path.remove_prefix(collection.size());
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return path;
}

}  // namespace

Response auth_disabled_response(const Request& request, const Routed& routed,
                                std::uint64_t cluster_id, const ResponseMeta& meta) {
  const std::string_view method = request.method_string();
  const std::string_view path = routed.path;
  if (path == "/v2/auth/enable") {
    if (method == "GET") return json_ok("{\"enabled\":false}\n", cluster_id, meta);
    if (method == "PUT") {
      return members_error_response(409, "auth: No root user available, please create one",
                                    cluster_id, meta);
    }
    return members_error_response(409, "auth: already disabled", cluster_id, meta);
  }
  if (path.substr(0, 14) == "/v2/auth/users") {
    return users(method, item_name(path, "/v2/auth/users"), cluster_id, meta);
  }
  return roles(method, item_name(path, "/v2/auth/roles"), cluster_id, meta);
}

}  // namespace discovery::api
