#pragma once
// The metrics a member exposes at /metrics: the etcd series that dashboards and alert rules read
// (etcd_server_has_leader, etcd_server_proposals_*, process_start_time_seconds, ...) with the
// meaning they have in etcd, plus discovery's own.
//
// Ownership: created by main() after the Member and before serving; the callbacks it registers
// read the Member, so it must outlive scrapes (it does: both live until main returns). Scrapes run
// on the io thread, where the Member lives.

#include "common/clock.h"
#include "common/metrics.h"
#include "discovery/server/member.h"

namespace discovery::server {

// Registers every member metric on `registry` and hands the Member the series it updates.
void register_member_metrics(common::metrics::Registry& registry, Member& member,
                             common::WallTime start_time);

}  // namespace discovery::server
