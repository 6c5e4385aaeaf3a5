"""The 3-member mode of bench/discovery-vs-etcd (`--members 3`): a 3-member etcd 3.4 and a
3-member discovery on 127.0.0.1, both running through the whole round, measured row by row in
turn (A B, then B A in the next round).

Rows, each on both clusters:
  PUT of distinct keys at 1, 16 and 64 connections, sent to the leader and to a follower;
  GET of one key at 64 connections on a follower, plain and with quorum=true (and quorum=true on
  the leader);
  watch latency: the PUT goes to one member, the watch is held on another (leader -> follower,
  and follower -> the other follower): p50 and p99;
  RSS of every member after --rss-keys keys PUT through the leader (fresh clusters, filled one at
  a time, followers caught up before reading).
The load average (1 min) is recorded with every row.

The helpers (servers, wrk, the raw HTTP client, the watch probe, the fill loader) are the ones of
bench/discovery-vs-etcd, handed in as `base`, so that both modes measure the same way.
"""

import json
import os
import shutil
import statistics
import sys
import time

VALUE_100 = "v" * 100
TOKEN = "bench-cluster"
LEADER_DEADLINE_S = 60.0
CATCH_UP_DEADLINE_S = 120.0


def make_member_class(base):
    class Member(base.Server):
        """One member of a 3-member cluster: base.Server with the cluster's flags."""

        def __init__(self, side, name, binary, workdir):
            super().__init__(f"{side}-{name}", binary, workdir)
            self.side = side
            self.name = name
            self.initial_cluster = None  # set by Cluster once every member has its ports

        @property
        def client_url(self):
            return f"http://127.0.0.1:{self.client_port}"

        def flags(self):
            client = self.client_url
            peer = f"http://127.0.0.1:{self.peer_port}"
            # etcd's defaults spelt out, so both sides certainly run the same timing.
            return ["--name", self.name, "--data-dir", self.data_dir,
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", self.initial_cluster,
                    "--initial-cluster-state", "new", "--initial-cluster-token", TOKEN,
                    "--heartbeat-interval", "100", "--election-timeout", "1000",
                    "--enable-v2=true"]

    return Member


class Cluster:
    """Three members of one binary; started together, stopped and wiped together."""

    def __init__(self, base, side, binary, workdir):
        self.base = base
        self.label = side
        member_class = make_member_class(base)
        self.members = [member_class(side, f"m{i + 1}", binary, workdir) for i in range(3)]
        initial = ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in self.members)
        for member in self.members:
            member.initial_cluster = initial

    def start(self):
        for member in self.members:
            member.start()
        for member in self.members:
            member.wait_ready()
        self.check_one_cluster()

    def check_one_cluster(self):
        """Fails unless every member lists all three in /v2/members and names the same leader:
        a binary that ignores --initial-cluster (an old single-member build) would otherwise run
        three separate one-member clusters and measure as if it were one."""
        want = sorted(m.client_url for m in self.members)
        deadline = time.monotonic() + LEADER_DEADLINE_S
        while True:
            seen = []
            for member in self.members:
                member.check_alive()  # a member that exited fails the run now, with its log
                try:
                    status, _, body = self.base.http_request(member.client_port, "GET",
                                                             "/v2/members", timeout=2.0)
                    listed = json.loads(body).get("members", []) if status == 200 else []
                    urls = sorted(u for m in listed for u in m.get("clientURLs", []))
                    status, _, body = self.base.http_request(member.client_port, "GET",
                                                             "/v2/members/leader", timeout=2.0)
                    leader = json.loads(body).get("id") if status == 200 else None
                except (OSError, ValueError):
                    urls, leader = [], None
                seen.append((urls, leader))
            if all(urls == want for urls, _ in seen) and len({l for _, l in seen}) == 1 \
                    and seen[0][1]:
                return
            if time.monotonic() > deadline:
                raise self.base.BenchError(f"{self.label}: the members do not form one cluster "
                                           f"(members and leader per member: {seen})")
            time.sleep(0.05)

    def stop(self):
        for member in self.members:
            member.stop()

    def wipe(self):
        for member in self.members:
            member.wipe()

    def leader(self):
        """(leader, [followers]) as /v2/members/leader of the first member says, polled until
        a leader is known and it is one of ours."""
        deadline = time.monotonic() + LEADER_DEADLINE_S
        while True:
            for member in self.members:
                member.check_alive()
            try:
                status, _, body = self.base.http_request(self.members[0].client_port, "GET",
                                                         "/v2/members/leader", timeout=2.0)
                if status == 200:
                    urls = json.loads(body).get("clientURLs", [])
                    for member in self.members:
                        if member.client_url in urls:
                            return member, [m for m in self.members if m is not member]
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise self.base.BenchError(f"{self.label}: no leader within {LEADER_DEADLINE_S}s")
            time.sleep(0.05)

    def index_of(self, member):
        status, headers, _ = self.base.http_request(member.client_port, "GET", "/v2/keys/")
        if status != 200:
            raise self.base.BenchError(f"{member.label}: GET /v2/keys/ answered {status}")
        return int(headers["x-etcd-index"])

    def wait_caught_up(self):
        """Polls until every member shows the leader's X-Etcd-Index (writes have stopped)."""
        leader, followers = self.leader()
        target = self.index_of(leader)
        deadline = time.monotonic() + CATCH_UP_DEADLINE_S
        for member in followers:
            while self.index_of(member) < target:
                if time.monotonic() > deadline:
                    raise self.base.BenchError(f"{member.label}: not at index {target} within "
                                               f"{CATCH_UP_DEADLINE_S}s")
                time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Rows


def row_specs(base, opts):
    """(name, target kind, run(cluster, round) -> value) per row, in run order."""
    rows = []
    for conns in (1, 16, 64):
        threads = base.wrk_threads(conns, opts.wrk_threads)
        for where in ("leader", "follower"):
            def put(cluster, rnd, conns=conns, threads=threads, where=where):
                target = pick(cluster, where)
                prefix = f"/v2/keys/bench/put-r{rnd}-c{conns}-{where}"
                return base.run_wrk(target, "put.lua", "/", conns, threads, opts.duration,
                                    [prefix])

            rows.append((f"PUT c={conns} {where}", put))
    for name, where, query in (("GET c=64 follower", "follower", ""),
                               ("GET quorum c=64 follower", "follower", "?quorum=true"),
                               ("GET quorum c=64 leader", "leader", "?quorum=true")):
        def get(cluster, rnd, where=where, query=query):
            return base.run_wrk(pick(cluster, where), "get.lua", base.GET_KEY + query, 64,
                                base.wrk_threads(64, opts.wrk_threads), opts.duration)

        rows.append((name, get))
    for name, writer_at, watcher_at in (("watch leader->follower", "leader", "follower"),
                                        ("watch follower->follower", "follower", "follower2")):
        def watch(cluster, rnd, writer_at=writer_at, watcher_at=watcher_at):
            samples = base.watch_latency(pick(cluster, watcher_at), opts.watch_count,
                                         writer=pick(cluster, writer_at))
            return {"samples": len(samples), "p50_us": base.percentile(samples, 50),
                    "p99_us": base.percentile(samples, 99), "max_us": max(samples),
                    "samples_us": [round(x, 1) for x in samples]}

        rows.append((name, watch))
    return rows


def pick(cluster, where):
    leader, followers = cluster.leader()
    return {"leader": leader, "follower": followers[0], "follower2": followers[1]}[where]


def run_rows(base, opts, clusters, results):
    """Each round: both clusters fresh, every row on both (order swapped every round)."""
    rows = [r for r in row_specs(base, opts)
            if not opts.only or any(word in r[0] for word in opts.only)]
    for rnd in range(1, opts.rounds + 1):
        order = clusters[rnd % len(clusters):] + clusters[:rnd % len(clusters)]
        for cluster in clusters:
            cluster.wipe()
            cluster.start()
        try:
            for cluster in clusters:
                base.put_ready_keys(cluster.leader()[0])
            for name, run in rows:
                for cluster in order:
                    load = os.getloadavg()[0]
                    value = run(cluster, rnd)
                    value["loadavg_1m"] = load
                    value["leader"] = cluster.leader()[0].name
                    results["rows"].setdefault(name, {}).setdefault(cluster.label, []).append(value)
                    base.log(f"round {rnd} {name:25} {cluster.label:9} {base.describe(value)}"
                             f"  load {load:.1f}")
        finally:
            for cluster in clusters:
                cluster.stop()
    for cluster in clusters:
        cluster.wipe()


def run_fill(base, opts, clusters, results):
    """RSS of every member after rss_keys keys PUT through the leader, one cluster filling at
    a time (the other one stopped), --rounds times alternating."""
    for rnd in range(1, opts.rounds + 1):
        for cluster in clusters:
            cluster.wipe()
            cluster.start()
            try:
                leader, followers = cluster.leader()
                took = base.fill_keys(leader, 0, opts.rss_keys)
                cluster.wait_caught_up()
                rss = {}
                for member in [leader] + followers:
                    rss[member.name] = member.rss_kib()["VmRSS"]
                entry = {"keys": opts.rss_keys, "fill_s": took, "leader": leader.name,
                         "leader_kib": rss[leader.name],
                         "follower_kib": max(rss[f.name] for f in followers),
                         "members_kib": rss, "loadavg_1m": os.getloadavg()[0]}
                results["rss"].setdefault(cluster.label, []).append(entry)
                base.log(f"round {rnd} RSS {cluster.label:9} leader "
                         f"{entry['leader_kib'] / 1024:.1f} MiB, followers "
                         + ", ".join(f"{rss[f.name] / 1024:.1f}" for f in followers)
                         + f" MiB after {opts.rss_keys} keys ({took:.1f}s, "
                         f"{opts.rss_keys / took:.0f} PUT/s)")
            finally:
                cluster.stop()
                cluster.wipe()


# ---------------------------------------------------------------------------------------------
# Report


def summary_lines(results):
    """(metric, etcd values, discovery values, target kind, target, format) per table row."""
    lines = []
    for name, sides in results["rows"].items():
        if len(sides) < 2:
            continue
        etcd, disc = sides["etcd"], sides["discovery"]
        if name.startswith("watch"):
            lines.append((f"{name} p50 ms", [v["p50_us"] / 1000 for v in etcd],
                          [v["p50_us"] / 1000 for v in disc], None, None, "{:.3f}",
                          [v["p50_us"] / 1000 for v in sides.get("baseline", [])]))
            lines.append((f"{name} p99 ms", [v["p99_us"] / 1000 for v in etcd],
                          [v["p99_us"] / 1000 for v in disc], "ratio<=", 0.5, "{:.3f}",
                          [v["p99_us"] / 1000 for v in sides.get("baseline", [])]))
            continue
        floor = 2.0 if name.startswith("PUT") or "quorum" in name else None
        lines.append((f"{name} req/s", [v["rps"] for v in etcd], [v["rps"] for v in disc],
                      "ratio>=" if floor else None, floor, "{:.0f}",
                      [v["rps"] for v in sides.get("baseline", [])]))
        lines.append((f"{name} p99 ms", [v["p99_us"] / 1000 for v in etcd],
                      [v["p99_us"] / 1000 for v in disc],
                      "ratio<=" if name.startswith("PUT") else None, 0.5, "{:.2f}",
                      [v["p99_us"] / 1000 for v in sides.get("baseline", [])]))
    rss = results["rss"]
    if "etcd" in rss and "discovery" in rss and len(rss["etcd"]) == len(rss["discovery"]):
        keys = rss["etcd"][0]["keys"]
        for role in ("leader", "follower"):
            lines.append((f"RSS {keys // 1000}k keys {role} MiB",
                          [v[f"{role}_kib"] / 1024 for v in rss["etcd"]],
                          [v[f"{role}_kib"] / 1024 for v in rss["discovery"]],
                          "ratio<=", 0.3, "{:.1f}",
                          [v[f"{role}_kib"] / 1024 for v in rss.get("baseline", [])]))
    return lines


def summarize(base, results):
    summary = []
    for metric, etcd, disc, kind, value, fmt, baseline in summary_lines(results):
        text, check = base.target_check(kind, value)
        etcd_median, disc_median = statistics.median(etcd), statistics.median(disc)
        round_ratios = [d / e for e, d in zip(etcd, disc) if e]
        summary.append({
            "metric": metric, "rounds": len(round_ratios), "etcd": etcd_median,
            "discovery": disc_median, "ratio": disc_median / etcd_median if etcd_median else None,
            "round_ratio_min": min(round_ratios, default=None),
            "round_ratio_max": max(round_ratios, default=None),
            "target": text, "met": None if check is None else check(etcd_median, disc_median),
            "format": fmt, "baseline": statistics.median(baseline) if baseline else None})
    return summary


def print_table(results, out=sys.stdout):
    with_base = any(row["baseline"] is not None for row in results["summary"])
    header = (f"{'metric':36} {'etcd':>9} {'discovery':>9} {'ratio':>6} {'rounds':>11}  "
              f"{'target':9} met" + ("  baseline new/base" if with_base else ""))
    print(header, file=out)
    print("-" * len(header), file=out)
    for row in results["summary"]:
        fmt = row["format"]
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        spread = "-"
        if row["rounds"] > 1 and row["round_ratio_min"] is not None:
            spread = f"{row['round_ratio_min']:.2f}-{row['round_ratio_max']:.2f}"
        met = {None: "", True: "yes", False: "NO"}[row["met"]]
        print(f"{row['metric']:36} {fmt.format(row['etcd']):>9} "
              f"{fmt.format(row['discovery']):>9} {ratio:>6} {spread:>11}  "
              f"{row['target']:9} {met:3}" + (
                  f"  {fmt.format(row['baseline']):>8} {row['discovery'] / row['baseline']:8.2f}"
                  if row["baseline"] else ""), file=out)
    for name, sides in results["rows"].items():
        for label, runs in sides.items():
            errors = sum(v for run in runs for k, v in run.items() if k.startswith("err_"))
            if errors:
                print(f"WARNING: {name} on {label}: {errors} wrk errors; its numbers are suspect",
                      file=out)
    loads = [v["loadavg_1m"] for sides in results["rows"].values() for runs in sides.values()
             for v in runs]
    if loads:
        print(f"load average (1 min) during the rows: {min(loads):.1f}-{max(loads):.1f}, "
              f"median {statistics.median(loads):.1f}", file=out)
    print(f"3 members each; medians per side of {results['config']['rounds']} rounds; "
          "ratio = discovery/etcd; rounds = range of per-round ratios", file=out)


# ---------------------------------------------------------------------------------------------
# Main


def main(base, opts, etcd_bin, disc_bin):
    workdir = base.tempfile.mkdtemp(prefix="bench-discovery-vs-etcd-3-", dir=opts.workdir)
    clusters = [Cluster(base, "etcd", etcd_bin, workdir),
                Cluster(base, "discovery", disc_bin, workdir)]
    baseline_bin = os.environ.get("DISCOVERY_BASELINE_BIN")
    if baseline_bin:
        # An earlier build measured in the same run, interleaved: a change's effect on a shared
        # machine shows as new/base, which the neighbours' load moves less than either figure.
        baseline_bin = base.resolve_binary(baseline_bin, False)
        clusters.append(Cluster(base, "baseline", baseline_bin, workdir))
    results = {"config": dict(vars(opts)),
               "binaries": {"etcd": {"path": etcd_bin, "version": base.version_of(etcd_bin)},
                            "discovery": {"path": disc_bin,
                                          "version": base.version_of(disc_bin)}},
               "started_utc": base.datetime.datetime.utcnow().isoformat() + "Z",
               "loadavg_start": os.getloadavg(), "cpu_count": os.cpu_count(),
               "workdir": workdir, "rows": {}, "rss": {}}
    base.log(f"3 members: etcd={etcd_bin} discovery={disc_bin} workdir={workdir}")
    started = time.monotonic()
    ok = False
    try:
        if "throughput" not in opts.skip:
            run_rows(base, opts, clusters, results)
        if "fill" not in opts.skip:
            run_fill(base, opts, clusters, results)
        ok = True
    finally:
        for cluster in clusters:
            cluster.stop()
        results["elapsed_s"] = time.monotonic() - started
        results["loadavg_end"] = os.getloadavg()
        results["summary"] = summarize(base, results)
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(results, f, indent=2)
        if ok and not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok and not opts.keep:
            for cluster in clusters:
                cluster.wipe()
            base.log(f"failed; logs kept in {workdir}")
    print_table(results)
    load = results["loadavg_end"]
    print(f"total {results['elapsed_s']:.0f} s; load average at the end "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    return 0
