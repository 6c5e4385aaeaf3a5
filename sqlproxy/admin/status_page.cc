#include "sqlproxy/admin/status_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "common/go_text.h"

namespace sqlproxy::admin {

namespace {

using common::go_html_escape;
using std::chrono::duration_cast;
using std::chrono::seconds;

// Kept short and readable at 1280 px, light and dark alike. System fonts only: the page must
// render the same without network access to any font or stylesheet host.
constexpr std::string_view kStyle = R"(
:root{color-scheme:light;--fg:#1d2330;--muted:#5d6677;--line:#dfe3ea;--bg:#f5f6f8;--card:#fff}
*{box-sizing:border-box}
body{margin:0;padding:20px 32px;background:var(--bg);color:var(--fg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;margin-bottom:12px}
h1{font-size:22px;margin:0}
h2{font-size:15px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.meta,.sub{color:var(--muted);font-size:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 20px;
 margin-bottom:12px}
.writer{border-left:6px solid #1f9d55}
.writer.none{border-left-color:#d64545}
.writer .value{font-size:24px;font-weight:600;font-family:ui-monospace,"DejaVu Sans Mono",monospace}
.writer.none .value{color:#d64545}
table{width:100%;border-collapse:collapse}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;border-bottom:1px solid var(--line);
 padding:6px 8px}
td{padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
tr:last-child td{border-bottom:0}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.nowrap,.name{white-space:nowrap}
.name{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
.stale{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
 white-space:nowrap}
.writable{background:#dcf5e6;color:#146c3b}.readable_only{background:#dde9fb;color:#1d4f91}
.draining{background:#fdf0d2;color:#8a5a00}.offline{background:#fbe0e0;color:#a12626}
.unknown{background:#eceef2;color:#5d6677}
.tag{display:inline-block;margin-left:6px;padding:0 6px;border-radius:4px;font-size:11px;
 font-weight:700;background:#1d2330;color:#fff;vertical-align:1px}
.reason{overflow-wrap:anywhere}
.empty{color:var(--muted);font-style:italic}
.error{color:#a12626}
)";

std::string detail(const BackendStatus& b, std::string_view key) {
  for (const auto& [k, v] : b.details) {
    if (k == key) return v;
  }
  return "";
}

std::string when(common::WallTime t, common::WallTime now) {
  return fmt::format("{} ({} ago)", format_utc(t), format_age(now - t));
}

std::string name_or_none(const std::string& name) {
  return name.empty() ? "<span class=\"empty\">none</span>"
                      : "<span class=\"name\">" + go_html_escape(name) + "</span>";
}

std::string header_html(const StatusSnapshot& s, const SessionCounts& sessions,
                        common::WallTime now) {
  std::size_t total = 0;
  for (const auto& [key, n] : sessions) total += n;
  return fmt::format(
      "<header><h1>sqlproxy</h1><span class=\"meta\">backends from <b>{}</b> &middot; {} client "
      "session{} &middot; as of {} &middot; refreshes every {} s</span></header>\n",
      go_html_escape(s.backend_source), total, total == 1 ? "" : "s", format_utc(now),
      kStatusPageRefresh.count());
}

// The reason shown under the writer: why it was chosen (its change's reason) while it holds,
// rather than the latest decision's "still writable"; why there is none otherwise.
std::string writer_reason(const StatusSnapshot& s) {
  if (!s.writer.empty() && !s.writer_history.empty() && s.writer_history.front().to == s.writer) {
    return "chosen: " + s.writer_history.front().reason;
  }
  return s.writer_reason;
}

std::string writer_html(const StatusSnapshot& s, common::WallTime now) {
  std::string since;
  if (const auto writer_since = s.writer_since()) {
    since = fmt::format("{} {} &middot; ", s.writer.empty() ? "without a writer since" : "since",
                        when(*writer_since, now));
  }
  const std::string shown = s.writer.empty() ? std::string("no writer") : go_html_escape(s.writer);
  const std::string changes = s.writer_history.empty()
                                  ? std::string("no writer chosen since start")
                                  : fmt::format("{} writer change{} after the first choice",
                                                s.writer_changes, s.writer_changes == 1 ? "" : "s");
  return fmt::format(
      "<section class=\"writer{}\"><h2>Writer</h2>"
      "<div class=\"value\"><span id=\"writer\" data-writer=\"{}\">{}</span></div>"
      "<div class=\"sub\">{}{}</div>"
      "<div class=\"reason\">{}</div></section>\n",
      s.writer.empty() ? " none" : "", go_html_escape(s.writer), shown, since, changes,
      go_html_escape(writer_reason(s)));
}

// "Synced · Primary · size 3" from the probe's wsrep values; a dash before a good probe.
std::string galera_cell(const BackendStatus& b) {
  std::vector<std::string> parts;
  const auto add = [&](std::string_view prefix, const std::string& value) {
    if (!value.empty()) parts.push_back(std::string(prefix) + go_html_escape(value));
  };
  add("", detail(b, "wsrep_local_state_comment"));
  add("", detail(b, "wsrep_cluster_status"));
  add("size ", detail(b, "wsrep_cluster_size"));
  if (detail(b, "wsrep_desync") == "ON") parts.emplace_back("desync");
  if (const std::string maint = detail(b, "pxc_maint_mode"); maint != "DISABLED") {
    add("maint ", maint);
  }
  if (parts.empty()) return "<span class=\"empty\">&ndash;</span>";
  std::string out = parts.front();
  for (std::size_t i = 1; i < parts.size(); ++i) out += " &middot; " + parts[i];
  // The values are from the last good probe: after a failed one they are history, not state.
  if (!detail(b, "probe_error").empty()) {
    return "<span class=\"stale\" title=\"from the last good probe\">was " + out + "</span>";
  }
  return out;
}

std::string probe_cell(const BackendStatus& b) {
  std::string latency = "&ndash;";
  if (b.last_probe_latency) {
    latency = fmt::format("{:.2f} ms", static_cast<double>(b.last_probe_latency->count()) / 1e3);
  }
  std::string sub = fmt::format("{} probe{}", b.probes_total, b.probes_total == 1 ? "" : "s");
  if (b.probe_failures_total > 0) {
    sub += fmt::format(", <span class=\"error\">{} failed</span>", b.probe_failures_total);
  }
  return latency + "<div class=\"sub\">" + sub + "</div>";
}

std::string backend_row(const BackendStatus& b, const SessionCounts& sessions) {
  const std::string_view state = backend_state_name(b.state);
  const std::string address =
      b.address.empty() || b.address == b.name
          ? ""
          : "<div class=\"sub mono\">" + go_html_escape(b.address) + "</div>";
  return fmt::format(
      "<tr class=\"backend\" data-backend=\"{0}\" data-state=\"{1}\" data-sessions-rw=\"{6}\" "
      "data-sessions-ro=\"{7}\"><td class=\"nowrap\"><span class=\"name\">{0}</span>{2}{3}</td>"
      "<td><span class=\"badge {1}\">{4}</span></td>"
      "<td class=\"reason\">{5}</td>"
      "<td class=\"num\">{6} / {7}</td><td class=\"nowrap\">{8}</td>"
      "<td class=\"num\">{9}</td></tr>\n",
      go_html_escape(b.name), state, b.writer ? "<span class=\"tag\">WRITER</span>" : "", address,
      state == "readable_only" ? "readable only" : state, go_html_escape(b.reason),
      sessions_of(sessions, b.name), sessions_of(sessions, b.name + std::string(kReaderKeySuffix)),
      galera_cell(b), probe_cell(b));
}

std::string backends_html(const StatusSnapshot& s, const SessionCounts& sessions) {
  std::string out = fmt::format("<section><h2>Backends ({})</h2>\n", s.backends.size());
  if (s.backends.empty()) {
    return out + "<p class=\"empty\">No backend known yet.</p></section>\n";
  }
  out +=
      "<table id=\"backends\"><thead><tr><th>Backend</th><th>State</th><th>Reason</th>"
      "<th class=\"num\">Sessions rw / ro</th><th>Galera</th><th class=\"num\">Last probe</th>"
      "</tr></thead><tbody>\n";
  for (const BackendStatus& b : s.backends) out += backend_row(b, sessions);
  return out + "</tbody></table></section>\n";
}

std::string history_html(const StatusSnapshot& s, common::WallTime now) {
  std::string out = "<section><h2>Recent writer changes</h2>\n";
  if (s.writer_history.empty()) {
    return out + "<p class=\"empty\">No writer chosen yet.</p></section>\n";
  }
  out +=
      "<table id=\"writer-changes\"><thead><tr><th>When</th><th>From</th><th></th><th>To</th>"
      "<th>Reason</th></tr></thead><tbody>\n";
  for (const WriterChange& c : s.writer_history) {
    out += fmt::format(
        "<tr class=\"writer-change\" data-from=\"{}\" data-to=\"{}\"><td class=\"nowrap\">{}"
        "</td><td>{}</td><td>&rarr;</td><td>{}</td><td class=\"reason\">{}</td></tr>\n",
        go_html_escape(c.from), go_html_escape(c.to), when(c.at, now), name_or_none(c.from),
        name_or_none(c.to), go_html_escape(c.reason));
  }
  return out + "</tbody></table></section>\n";
}

std::string urls_cell(const std::vector<std::string>& urls) {
  std::string out;
  for (const std::string& url : urls) out += (out.empty() ? "" : "<br>") + go_html_escape(url);
  return out;
}

std::string discovery_summary(const DiscoveryStatus& d, common::WallTime now) {
  std::string leader = "<span class=\"error\">no leader known</span>";
  for (const DiscoveryMember& m : d.members) {
    if (!d.leader_id.empty() && m.id == d.leader_id) {
      leader =
          "leader <b class=\"mono\">" + go_html_escape(m.name.empty() ? m.id : m.name) + "</b>";
    }
  }
  std::string out = fmt::format(
      "<p class=\"sub\">asked at <span class=\"mono\" id=\"discovery-endpoint\">{}</span>",
      go_html_escape(d.endpoint));
  if (d.endpoints.size() > 1) {
    std::string others;
    for (const std::string& e : d.endpoints) {
      if (e != d.endpoint) others += (others.empty() ? "" : ", ") + go_html_escape(e);
    }
    out += fmt::format(" (of {}; on failure also <span class=\"mono\">{}</span>)",
                       d.endpoints.size(), others);
  }
  out += " &middot; " + leader;
  if (d.updated_at) out += " &middot; updated " + when(*d.updated_at, now);
  out += "</p>\n";
  if (!d.error.empty()) {
    out += "<p class=\"error\">Last refresh failed: " + go_html_escape(d.error) + "</p>\n";
  }
  return out;
}

std::string discovery_html(const DiscoveryStatus& d, common::WallTime now) {
  std::string out =
      fmt::format("<section id=\"discovery\"><h2>Discovery members ({})</h2>\n", d.members.size());
  out += discovery_summary(d, now);
  if (d.members.empty()) return out + "<p class=\"empty\">No member known yet.</p></section>\n";
  out +=
      "<table id=\"members\"><thead><tr><th>Member</th><th>ID</th><th>Client URLs</th>"
      "<th>Peer URLs</th></tr></thead><tbody>\n";
  std::vector<const DiscoveryMember*> members;
  for (const DiscoveryMember& m : d.members) members.push_back(&m);
  std::stable_sort(members.begin(), members.end(),
                   [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const DiscoveryMember* member : members) {
    const DiscoveryMember& m = *member;
    const bool leader = !d.leader_id.empty() && m.id == d.leader_id;
    out += fmt::format(
        "<tr class=\"member\" data-name=\"{0}\" data-id=\"{1}\" data-leader=\"{2}\">"
        "<td class=\"nowrap\"><span class=\"name\">{0}</span>{3}</td><td class=\"mono\">{1}</td>"
        "<td class=\"mono\">{4}</td><td class=\"mono\">{5}</td></tr>\n",
        go_html_escape(m.name), go_html_escape(m.id), leader ? "true" : "false",
        leader ? "<span class=\"tag\">LEADER</span>" : "", urls_cell(m.client_urls),
        urls_cell(m.peer_urls));
  }
  return out + "</tbody></table></section>\n";
}

}  // namespace

std::string format_utc(common::WallTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string format_age(std::chrono::nanoseconds age) {
  const std::int64_t s = age.count() <= 0 ? 0 : duration_cast<seconds>(age).count();
  constexpr std::int64_t kMinute = 60;
  constexpr std::int64_t kHour = 60 * kMinute;
  constexpr std::int64_t kDay = 24 * kHour;
  if (s < kMinute) return fmt::format("{} s", s);
  if (s < kHour) return fmt::format("{} min {} s", s / kMinute, s % kMinute);
  if (s < kDay) return fmt::format("{} h {} min", s / kHour, s % kHour / kMinute);
  return fmt::format("{} d {} h", s / kDay, s % kDay / kHour);
}

std::string render_status_page(const StatusSnapshot& snapshot, const SessionCounts& sessions,
                               common::WallTime now) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"{}\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>sqlproxy: {}</title><style>{}</style></head>\n<body>\n",
      kStatusPageRefresh.count(),
      snapshot.writer.empty() ? std::string("no writer")
                              : "writer " + go_html_escape(snapshot.writer),
      kStyle);
  out += header_html(snapshot, sessions, now);
  out += writer_html(snapshot, now);
  out += backends_html(snapshot, sessions);
  out += history_html(snapshot, now);
  if (snapshot.discovery) out += discovery_html(*snapshot.discovery, now);
  return out + "</body></html>\n";
}

}  // namespace sqlproxy::admin
