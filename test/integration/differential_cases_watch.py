"""Watch cases: response timing, streams, history, scope and expiry (behaviour items 28-31)."""

from difftest import case

K = "/v2/keys"
HISTORY_EVENTS = 1000


@case("watch_wait_basic", items=(28,))
def watch_basic(c):
    p = f"{K}/wb"
    c.send("PUT", f"{p}/a", form={"value": "0"})
    w = c.watch(f"{p}/a?wait=true", "wait=true")
    c.req("PUT", f"{p}/a", form={"value": "1"})
    w.event()
    w.event("end of body after one event")
    w.close()
    w = c.watch(f"{p}/new?wait=true", "wait for a key that does not exist yet")
    c.req("POST", f"{p}", form={"value": "x"}, label="unrelated write")
    c.req("PUT", f"{p}/new", form={"value": "n"})
    w.event()
    w.close()
    c.req("PUT", f"{p}/a?wait=true", form={"value": "2"}, label="wait=true on PUT: 209")
    c.req("DELETE", f"{p}/a?wait=true", label="wait=true on DELETE")
    c.req("POST", f"{p}?wait=true", form={"value": "2"}, label="wait=true on POST")
    c.req("GET", f"{p}/a?waitIndex=1", label="waitIndex without wait: plain GET")
    c.req("HEAD", f"{p}/a?wait=true&waitIndex=1", label="HEAD wait with old index")
    c.req("DELETE", f"{p}?recursive=true")


@case("watch_wait_index_in_history", items=(29,))
def watch_index(c):
    p = f"{K}/wi"
    first = c.json("PUT", f"{p}/a", form={"value": "1"})["node"]["modifiedIndex"]
    c.send("PUT", f"{p}/a", form={"value": "2"})
    c.send("PUT", f"{p}/b", form={"value": "3"})
    w = c.watch(f"{p}/a?wait=true&waitIndex={first}", "waitIndex=first: immediate")
    w.event()
    w.close()
    w = c.watch(f"{p}/a?wait=true&waitIndex={first + 1}", "waitIndex=second")
    w.event()
    w.close()
    w = c.watch(f"{p}?wait=true&recursive=true&waitIndex={first + 2}", "recursive in history")
    w.event()
    w.close()
    w = c.watch(f"{p}/a?wait=true&waitIndex={first + 3}", "waitIndex in the future")
    c.req("PUT", f"{p}/b", form={"value": "4"}, label="other key")
    c.req("PUT", f"{p}/a", form={"value": "5"}, label="watched key")
    w.event()
    w.close()
    w = c.watch(f"{p}/a?wait=true&waitIndex=0", "waitIndex=0 means now")
    c.req("PUT", f"{p}/a", form={"value": "6"})
    w.event()
    w.close()
    c.req("DELETE", f"{p}?recursive=true")


@case("watch_history_cleared_401", items=(29,))
def watch_cleared(c):
    p = f"{K}/wc"
    first = c.json("PUT", f"{p}/k", form={"value": "0"})["node"]["modifiedIndex"]
    for num in range(HISTORY_EVENTS + 5):
        c.send("PUT", f"{p}/k", form={"value": str(num)})
    current = c.index()
    c.req("GET", f"{p}/k?wait=true&waitIndex={first}", label="waitIndex cleared: 401 as 400")
    c.req("GET", f"{p}/k?wait=true&waitIndex={current - 1000}", label="oldest-1: cleared")
    w = c.watch(f"{p}/k?wait=true&waitIndex={current - 999}", "oldest kept: served")
    w.event()
    w.close()
    c.req("DELETE", f"{p}?recursive=true")


@case("watch_stream", items=(28,))
def watch_stream(c):
    p = f"{K}/ws"
    w = c.watch(f"{p}?wait=true&stream=true&recursive=true", "stream recursive")
    c.send("PUT", f"{p}/a", form={"value": "1"})
    c.send("PUT", f"{p}/b/c", form={"value": "2", "ttl": "100"})
    c.send("DELETE", f"{p}/a")
    c.send("POST", f"{p}/q", form={"value": "3"})
    c.send("PUT", f"{p}/b/c?prevValue=2", form={"value": "4"})
    c.send("DELETE", f"{p}/b?recursive=true")
    for num in range(6):
        w.event(f"event {num}")
    w.close()
    w = c.watch(f"{p}/x?wait=true&stream=true", "stream on one key")
    for num in range(3):
        c.send("PUT", f"{p}/x", form={"value": str(num)})
    c.send("PUT", f"{p}/y", form={"value": "other"})
    c.send("DELETE", f"{p}/x")
    for num in range(4):
        w.event(f"event {num}")
    w.close()
    c.req("DELETE", f"{p}?recursive=true")


@case("watch_scope", items=(30, 24))
def watch_scope(c):
    p = f"{K}/wsc"
    c.send("PUT", f"{p}/d/e/f", form={"value": "v"})
    w = c.watch(f"{p}/d/e/f?wait=true", "key watch, ancestor deleted")
    c.req("DELETE", f"{p}/d?recursive=true")
    w.event("event names the dir")
    w.close()
    c.send("PUT", f"{p}/d2/x", form={"value": "v"})
    w = c.watch(f"{p}/d2?wait=true", "non-recursive dir watch")
    c.send("PUT", f"{p}/d2/y", form={"value": "child"})
    c.send("PUT", f"{p}/d2/x", form={"value": "child2"})
    c.send("PUT", f"{p}/d2?dir=true&prevExist=true&ttl=100")
    w.event("only the dir's own change")
    w.close()
    w = c.watch(f"{p}?wait=true&recursive=true", "recursive watch skips hidden keys")
    c.send("PUT", f"{p}/_hidden", form={"value": "h"})
    c.send("PUT", f"{p}/d3/_h2", form={"value": "h"})
    c.send("PUT", f"{p}/visible", form={"value": "v"})
    w.event()
    w.close()
    w = c.watch(f"{p}/_hidden?wait=true", "direct watch on hidden key")
    c.send("PUT", f"{p}/_hidden", form={"value": "h2"})
    w.event()
    w.close()
    w = c.watch(f"{K}/?wait=true&recursive=true", "recursive watch on root")
    c.send("PUT", f"{p}/r", form={"value": "r"})
    w.event()
    w.close()
    c.req("DELETE", f"{p}?recursive=true")


@case("watch_expire_events", items=(31, 6))
def watch_expire(c):
    p = f"{K}/wx"
    c.send("PUT", f"{p}/d/a", form={"value": "a", "ttl": "1"})
    c.send("PUT", f"{p}/d/b", form={"value": "b", "ttl": "1"})
    before = c.index()
    w = c.watch(f"{p}/d?wait=true&recursive=true&stream=true", "two keys expire")
    w.event("first expire")
    w.event("second expire")
    w.close()
    c.wait_gone(f"{p}/d/b")
    after = c.index()
    c.note("index advanced by one per expired key", str(after - before))
    c.send("PUT", f"{p}/dir?dir=true&ttl=1")
    c.send("PUT", f"{p}/dir/child", form={"value": "c"})
    w = c.watch(f"{p}/dir/child?wait=true", "dir expiry fires on child watch")
    w.event()
    w.close()
    c.req("GET", f"{p}?recursive=true&sorted=true")
    c.req("DELETE", f"{p}?recursive=true")


@case("watch_errors", items=(28, 29))
def watch_errors(c):
    p = f"{K}/we"
    c.req("GET", f"{p}/a?wait=true&waitIndex=abc", label="waitIndex NaN")
    c.req("GET", f"{p}/a?wait=true&stream=maybe", label="stream bad bool")
    c.req("GET", f"{p}/a?wait=yes", label="wait bad bool")
    c.send("PUT", f"{p}/f", form={"value": "v"})
    w = c.watch(f"{p}/f/under?wait=true", "watch under a file")
    c.send("PUT", f"{p}/f", form={"value": "w"})
    c.send("DELETE", f"{p}/f")
    c.send("PUT", f"{p}/f/under", form={"value": "now"})
    w.event("neither the file's set nor its delete fire; the key's own set does")
    w.close()
    c.req("DELETE", f"{p}?recursive=true")
