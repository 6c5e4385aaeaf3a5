#pragma once
// The human status page served at GET / on the admin port: one self-contained HTML document
// (inline CSS, no script, no external asset) that reloads itself every kStatusPageRefresh. It
// shows the writer and since when, every backend with its state, reason and sessions, the recent
// writer changes, and the discovery cluster's members and leader when backends come from there.
//
// Pure: the snapshot, the session counts and the current time in, the document out. Every text
// that comes from outside (backend names, reasons, wsrep values, member names and URLs) is
// escaped with common::go_html_escape; nothing from the snapshot reaches the page unescaped.
//
// Stable hooks for tests and scripts (test/support/status_page.py reads them):
//   <span id="writer" data-writer="NAME">   NAME empty when there is no writer
//   <tr class="backend" data-backend="NAME" data-state="STATE">  one per backend
//   <tr class="writer-change" data-from="A" data-to="B">         newest first
//   <tr class="member" data-name="N" data-id="ID" data-leader="true|false">

#include <chrono>
#include <string>

#include "common/clock.h"
#include "sqlproxy/admin/status.h"
#include "sqlproxy/admin/status_render.h"

namespace sqlproxy::admin {

inline constexpr std::chrono::seconds kStatusPageRefresh{2};

std::string render_status_page(const StatusSnapshot& snapshot, const SessionCounts& sessions,
                               common::WallTime now);

// "2026-11-27 12:34:56 UTC".
std::string format_utc(common::WallTime t);

// A short age: "0 s", "45 s", "3 min 12 s", "2 h 5 min", "3 d 4 h". Negative ages read "0 s".
std::string format_age(std::chrono::nanoseconds age);

}  // namespace sqlproxy::admin
