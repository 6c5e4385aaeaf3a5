"""Keys API cases: body format, status codes, parameters, keys and directories.

Numbers in `items` refer to /work/shared/reference/etcd-v2-behaviour.md. Each case works under
its own key prefix so cases do not see each other's keys.
"""

from difftest import case

K = "/v2/keys"


@case("root_node", items=(4,))
def root_node(c):
    c.req("GET", f"{K}")
    c.req("GET", f"{K}/")
    c.req("GET", f"{K}/?recursive=true&sorted=true")
    c.req("PUT", f"{K}/", form={"value": "x"}, label="PUT root")
    c.req("DELETE", f"{K}/?recursive=true", label="DELETE root")


@case("body_format_and_field_order", items=(1, 2, 3))
def body_format(c):
    p = f"{K}/fmt"
    c.req("PUT", f"{p}/a", form={"value": "1"})
    c.req("PUT", f"{p}/a", form={"value": "2", "ttl": "100"}, label="overwrite with ttl: prevNode")
    c.req("PUT", f"{p}/a", form={"value": "3", "ttl": "100"}, label="prevNode with ttl")
    c.req("GET", f"{p}/a")
    c.req("PUT", f"{p}/empty", form={"value": ""}, label="empty value kept")
    c.req("PUT", f"{p}/dir", form={"dir": "true"})
    c.req("GET", f"{p}/dir", label="empty dir: no nodes")
    c.req("GET", f"{p}/dir?recursive=true", label="empty dir recursive: no nodes")
    c.req("GET", f"{p}?sorted=true")
    c.req("GET", f"{p}?recursive=true&sorted=true")
    c.req("GET", f"{p}/missing", label="error body format")
    c.req("DELETE", f"{p}/a")


@case("listing_order", items=(5,))
def listing_order(c):
    p = f"{K}/lo"
    for key in ("b", "a", "c/z", "c/a", "B", "a0", "~", "%C3%A9"):
        c.send("PUT", f"{p}/{key}", form={"value": key})
    c.req("GET", f"{p}?sorted=true")
    c.req("GET", f"{p}?recursive=true&sorted=true")
    c.req("GET", f"{p}?recursive=true", transform="unordered", label="unsorted (test sorts)")
    c.req("GET", f"{p}/c?sorted=false", transform="unordered")


@case("delete_type_events", items=(6,))
def delete_events(c):
    p = f"{K}/de"
    c.req("PUT", f"{p}/a", form={"value": "va", "ttl": "100"})
    c.req("DELETE", f"{p}/a", label="delete: node without value, prevNode with it")
    c.req("PUT", f"{p}/b", form={"value": "vb"})
    c.req("DELETE", f"{p}/b?prevValue=vb", label="compareAndDelete by value")
    c.req("PUT", f"{p}/c", form={"value": "vc"})
    idx = c.json("GET", f"{p}/c")["node"]["modifiedIndex"]
    c.req("DELETE", f"{p}/c?prevIndex={idx}", label="compareAndDelete by index")
    c.req("PUT", f"{p}/d/e", form={"value": "x"})
    c.req("DELETE", f"{p}/d?recursive=true", label="recursive delete of dir")
    c.req("PUT", f"{p}/f", form={"dir": "true"})
    c.req("DELETE", f"{p}/f?dir=true", label="delete empty dir")


@case("expire_event_shape", items=(6, 7, 31))
def expire_event(c):
    p = f"{K}/ex"
    c.req("PUT", f"{p}/k", form={"value": "v", "ttl": "1"})
    w = c.watch(f"{p}/k?wait=true")
    w.event("expire event")
    w.close()
    c.req("GET", f"{p}/k", label="gone after expiry")
    c.req("GET", f"{p}", label="index moved by the expiry")


@case("ttl_values", items=(7,))
def ttl_values(c):
    p = f"{K}/ttl"
    c.req("PUT", f"{p}/long", form={"value": "v", "ttl": "1000"})
    c.req("GET", f"{p}/long", label="ttl is ceil of remaining")
    c.req("PUT", f"{p}/zero", form={"value": "v", "ttl": "0"}, label="ttl=0: expiration, no ttl")
    c.wait_gone(f"{p}/zero")
    c.req("GET", f"{p}/zero", label="ttl=0 key gone after the next sweep")
    c.req("PUT", f"{p}/long", form={"value": "v", "ttl": ""}, label="ttl= removes the ttl")
    c.req("GET", f"{p}/long")
    c.req("PUT", f"{p}/d", form={"dir": "true", "ttl": "1000"}, label="dir with ttl")
    c.req("GET", f"{p}?sorted=true", label="listing shows ttl of children")
    c.req("DELETE", f"{p}?recursive=true")


@case("escaping_values_and_keys", items=(8, 25))
def escaping(c):
    p = f"{K}/esc"
    values = ["<a&b>", "\u2028\u2029", "\x01\x02\x1f", "\n\r\t", "caf\u00e9 \u65e5\u672c \U0001F600",
              "\x7f", "quote\" back\\slash /", "\x00nul", "\ud7ff\ue000"]
    for num, value in enumerate(values):
        c.req("PUT", f"{p}/v{num}", form={"value": value}, label=f"value {value!r}")
    raw_bad_utf8 = "value=%FF%FE%80"
    c.req("PUT", f"{p}/bad_utf8", form=raw_bad_utf8, label="invalid UTF-8 value")
    for key in ("caf%C3%A9", "%E6%97%A5", "a%3Cb%3E", "sp%20ace", "plus+sign", "pct%25",
                "q%3Fmark", "hash%23", "x%2Fy", "tr/", "amp%26"):
        c.req("PUT", f"{p}/{key}", form={"value": "k"}, label=f"key {key}")
    c.req("GET", f"{p}?recursive=true&sorted=true")


@case("status_codes_201_200", items=(9,))
def status_codes(c):
    p = f"{K}/st"
    c.req("PUT", f"{p}/a", form={"value": "1"}, label="set new: 201")
    c.req("PUT", f"{p}/a", form={"value": "2"}, label="set existing: 200")
    c.req("PUT", f"{p}/b?prevExist=false", form={"value": "1"}, label="create: 201")
    c.req("PUT", f"{p}/b?prevExist=true", form={"value": "2"}, label="update: 200")
    c.req("PUT", f"{p}/b?prevValue=2", form={"value": "3"}, label="CAS: 200")
    c.req("POST", f"{p}/q", form={"value": "1"}, label="POST: 201")
    c.req("GET", f"{p}/b", label="get: 200")
    c.req("DELETE", f"{p}/b", label="delete: 200")
    c.req("PUT", f"{p}/d?dir=true", label="mkdir: 201")


@case("error_codes_all", items=(9, 10, 20, 21, 22))
def error_codes(c):
    p = f"{K}/err"
    c.send("PUT", f"{p}/file", form={"value": "v"})
    c.send("PUT", f"{p}/dir/child", form={"value": "v"})
    c.req("GET", f"{p}/nope", label="100 key not found")
    c.req("PUT", f"{p}/file?prevValue=x", form={"value": "y"}, label="101 compare failed")
    c.req("PUT", f"{p}/dir", form={"value": "y"}, label="102 not a file")
    c.req("GET", f"{p}/file/sub", label="104 not a dir")
    c.req("PUT", f"{p}/file?prevExist=false", form={"value": "y"}, label="105 node exists")
    c.req("PUT", f"{K}/_etcd/x", form={"value": "y"}, label="write under /_etcd")
    c.req("DELETE", f"{K}/?dir=true", label="107 root read only")
    c.req("DELETE", f"{p}/dir?dir=true", label="108 dir not empty")
    c.req("PUT", f"{p}/file?prevValue=", form={"value": "y"}, label="201 prevValue required")
    c.req("PUT", f"{p}/file?ttl=abc", form={"value": "y"}, label="202 ttl NaN")
    c.req("PUT", f"{p}/file?prevIndex=abc", form={"value": "y"}, label="203 index NaN")
    c.req("GET", f"{p}/file?recursive=maybe", label="209 invalid field")
    c.req("GET", f"{p}/file?a=1;b=2", label="210 invalid form")
    c.req("PUT", f"{p}/file?refresh=true&ttl=5", form={"value": "y"}, label="211 refresh value")
    c.req("PUT", f"{p}/file?refresh=true", label="212 refresh ttl required")
    c.req("DELETE", f"{p}?recursive=true")


@case("index_headers", items=(10,))
def index_headers(c):
    p = f"{K}/ih"
    c.req("PUT", f"{p}/a", form={"value": "1"})
    c.req("PUT", f"{p}/b", form={"value": "1"})
    c.req("GET", f"{p}/a", label="GET: X-Etcd-Index is current, not modifiedIndex")
    c.req("GET", f"{p}/zz", label="store error: current index, no raft headers")
    c.req("PUT", f"{p}/a?ttl=x", form={"value": "1"}, label="param error: index 0")
    c.req("GET", f"{p}/a?quorum=true", label="quorum GET")
    c.req("HEAD", f"{p}/a", label="HEAD")
    c.req("HEAD", f"{p}/zz", label="HEAD missing")


@case("index_bookkeeping", items=(32,))
def index_bookkeeping(c):
    """The single-member parts of item 32: failed writes and reads consume no index."""
    p = f"{K}/ib"
    c.req("PUT", f"{p}/a", form={"value": "1"})
    c.req("PUT", f"{p}/a?prevValue=zz", form={"value": "2"}, label="failed CAS")
    c.req("PUT", f"{p}/a?prevExist=false", form={"value": "2"}, label="failed create")
    c.req("DELETE", f"{p}/zz", label="failed delete")
    c.req("PUT", f"{p}/a?ttl=bad", form={"value": "2"}, label="rejected parameters")
    c.req("GET", f"{p}/a?quorum=true", label="quorum GET: etcd index unchanged")
    c.req("GET", f"{p}/a?quorum=true&recursive=true&sorted=true", label="quorum GET again")
    c.req("PUT", f"{p}/b", form={"value": "1"}, label="next write: index +1")
    c.req("DELETE", f"{p}?recursive=true")


@case("cors_and_options", items=(11,))
def cors(c):
    c.req("OPTIONS", f"{K}/a")
    c.req("OPTIONS", f"{K}/")
    c.req("OPTIONS", "/v2/members")
    c.req("OPTIONS", "/nonexistent")
    c.req("GET", f"{K}/a", headers=[("Origin", "http://example.com")], label="with Origin")
    c.req("OPTIONS", f"{K}/a", headers=[("Origin", "http://example.com"),
                                        ("Access-Control-Request-Method", "PUT")],
          label="preflight")


@case("unknown_paths_and_methods", items=(13, 25))
def unknown(c):
    for path in ("/v2", "/v2/", "/v2/keysfoo", "/foo", "/", "/v2/members/nope", "/v3/keys",
                 "/v2/stats", "/v2/stats/nope", "/v2/keys/../x", "/v2/keys/./a", "/v2/keys/a/..",
                 "/v2/keys//a//b", "/v2/machines/", "/health/", "/version/x"):
        c.req("GET", path)
    for method in ("PATCH", "TRACE", "CONNECT", "FOO"):
        c.req(method, f"{K}/a", label=f"{method} keys")
    c.req("PUT", "/version", label="PUT /version")
    c.req("POST", "/health", label="POST /health")
    c.req("DELETE", "/v2/machines", label="DELETE machines")
    c.req("PUT", "/v2/stats/self", label="PUT stats/self")
    c.req("HEAD", "/v2/keys//a", label="HEAD non-clean path")
    c.req("DELETE", "/v2/keys//a", label="DELETE non-clean path")
    c.req("GET", "/v2/keys//a?x=1", label="301 keeps query")


@case("form_parsing", items=(15,))
def form_parsing(c):
    p = f"{K}/form"
    c.req("PUT", f"{p}/a?value=query", form={"value": "body"}, label="body wins over query")
    c.req("PUT", f"{p}/a?value=q1&value=q2", label="repeated query: first wins")
    c.req("PUT", f"{p}/a", form="value=b1&value=b2", label="repeated body: first wins")
    c.req("PUT", f"{p}/a?value=query", body='{"value":"json"}', content_type="application/json",
          label="JSON body ignored, query used")
    c.req("PUT", f"{p}/b", body='{"value":"json"}', content_type="application/json",
          label="JSON body ignored: empty value")
    c.req("PUT", f"{p}/c", body="value=noctype", label="body without Content-Type ignored")
    c.req("PUT", f"{p}/d", label="no value at all: empty value")
    c.req("PUT", f"{p}/e?value=a;b", label="semicolon in query")
    c.req("PUT", f"{p}/e", form="value=a;b", label="semicolon in body")
    c.req("PUT", f"{p}/e?value=%zz", label="bad escape in query")
    c.req("PUT", f"{p}/e", form="value=%zz", label="bad escape in body")
    c.req("PUT", f"{p}/e", form="value=%4", label="truncated escape in body")
    c.req("PUT", f"{p}/f", form="value=a+b%20c", label="plus and %20 in body")
    c.req("PUT", f"{p}/g?value=a+b", label="plus in query")
    c.req("PUT", f"{p}/h", body="value=ct-params", content_type=f"{FORM}; charset=utf-8",
          label="form content type with params")
    c.req("PUT", f"{p}/i", body="value=multi", content_type="multipart/form-data; boundary=x",
          label="multipart content type")
    c.req("PUT", f"{p}/j", form="=x&value=v&novalue", label="odd pairs in body")
    c.req("POST", f"{p}/q?value=query", form={"value": "body"}, label="POST body wins")
    c.req("GET", f"{p}/a?recursive=true", form={"recursive": "bad"},
          label="GET with form body: body not parsed")
    c.req("DELETE", f"{p}?recursive=true")


FORM = "application/x-www-form-urlencoded"


@case("boolean_parameters", items=(16,))
def booleans(c):
    p = f"{K}/bool"
    c.send("PUT", f"{p}/d/x", form={"value": "v"})
    for text in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"):
        c.req("GET", f"{p}/d?recursive={text}&sorted={text}", label=f"recursive/sorted={text}")
    for text in ("yes", "tRUE", "", "2"):
        c.req("GET", f"{p}/d?recursive={text}", label=f"recursive={text!r}")
    for name in ("sorted", "wait", "quorum", "stream"):
        c.req("GET", f"{p}/d?{name}=bad", label=f"GET {name}=bad")
    for name in ("dir", "noValueOnSuccess", "prevExist", "refresh"):
        c.req("PUT", f"{p}/y?{name}=bad", form={"value": "v"}, label=f"PUT {name}=bad")
    c.req("DELETE", f"{p}/d?recursive=bad", label="DELETE recursive=bad")
    c.req("DELETE", f"{p}/d?dir=bad", label="DELETE dir=bad")
    c.req("DELETE", f"{p}?recursive=true")


@case("ttl_and_index_parameters", items=(17,))
def ttl_params(c):
    p = f"{K}/tp"
    c.send("PUT", f"{p}/a", form={"value": "v"})
    for ttl in ("-1", "1.5", "abc", "18446744073709551616", "99999999999999999999", " 5", "+5",
                "0x10", "5s"):
        c.req("PUT", f"{p}/a", form={"value": "v", "ttl": ttl}, label=f"ttl={ttl!r}")
    c.req("PUT", f"{p}/a", form={"value": "v", "ttl": "100"}, label="ttl=100")
    c.req("PUT", f"{p}/a", form={"value": "v", "ttl": ""}, label="ttl= removes ttl")
    c.req("GET", f"{p}/a")
    for name in ("prevIndex", "waitIndex"):
        for text in ("abc", "-1", "1.0", ""):
            method = "PUT" if name == "prevIndex" else "GET"
            extra = "&wait=true" if name == "waitIndex" and text == "-1" else ""
            c.req(method, f"{p}/a?{name}={text}{extra}", form={"value": "v"} if method == "PUT"
                  else None, label=f"{name}={text!r}")
    c.req("PUT", f"{p}/a?prevValue=", form={"value": "v"}, label="prevValue= empty: 201")
    c.req("DELETE", f"{p}/a?prevValue=", label="DELETE prevValue= empty")
    c.req("DELETE", f"{p}/a?prevIndex=abc", label="DELETE prevIndex NaN")
    c.req("DELETE", f"{p}?recursive=true")


@case("ttl_overflow", items=(7, 17))
def ttl_overflow(c):
    """Huge TTLs overflow etcd's time arithmetic: some keys expire at the next sweep with
    "ttl":-1, others become permanent. Each expiring one is awaited so no expiry lands later."""
    p = f"{K}/tov"
    for ttl in ("18446744073709551615", "9223372036854775807", "9223372037", "9223372036",
                "4294967296", "315360000"):
        c.req("PUT", f"{p}/k{ttl}", form={"value": "v", "ttl": ttl}, label=f"ttl={ttl}")
        resp = c.send("GET", f"{p}/k{ttl}")
        if resp.status == 200 and b'"ttl":-' in resp.body:
            c.wait_gone(f"{p}/k{ttl}")
        c.req("GET", f"{p}/k{ttl}", label=f"ttl={ttl} afterwards")
    c.req("DELETE", f"{p}?recursive=true")


@case("refresh", items=(18,))
def refresh(c):
    p = f"{K}/rf"
    c.req("PUT", f"{p}/a", form={"value": "v", "ttl": "100"})
    c.req("PUT", f"{p}/a?refresh=true", label="refresh without ttl: 212")
    c.req("PUT", f"{p}/a?refresh=true&ttl=50", form={"value": "x"}, label="refresh with value")
    w = c.watch(f"{p}/a?wait=true")
    c.req("PUT", f"{p}/a?refresh=true&prevExist=true&ttl=200",
          label="refresh with prevExist: update, consumes index")
    c.req("PUT", f"{p}/a", form={"value": "after"}, label="next write")
    w.event("watcher sees the write, not the refresh")
    w.close()
    c.req("PUT", f"{p}/a", form={"value": "v", "ttl": "100"})
    c.req("PUT", f"{p}/a?refresh=true&ttl=300", label="refresh without prevExist: set, new createdIndex")
    c.req("GET", f"{p}/a")
    c.req("PUT", f"{p}/missing?refresh=true&ttl=5", label="refresh missing key")
    c.req("PUT", f"{p}/missing?refresh=true&ttl=5&prevExist=true", label="refresh missing prevExist")
    c.req("PUT", f"{p}/a?refresh=true&ttl=5&prevValue=v", label="refresh CAS")
    c.req("PUT", f"{p}/a?refresh=true&ttl=5&prevValue=zz", label="refresh CAS fail")
    c.req("DELETE", f"{p}?recursive=true")


@case("creating_directories", items=(19,))
def creating_dirs(c):
    p = f"{K}/mk"
    c.req("PUT", f"{p}/d?dir=true")
    c.req("PUT", f"{p}/d?dir=true", label="dir=true on existing dir: 102")
    c.req("PUT", f"{p}/f", form={"value": "v"})
    c.req("PUT", f"{p}/f?dir=true", label="dir=true on file replaces it")
    c.req("PUT", f"{p}/g?dir=true", form={"value": "ignored"}, label="dir with value")
    c.req("PUT", f"{p}/d?dir=true&prevExist=true&ttl=100", label="dir ttl update")
    c.req("PUT", f"{p}/d?dir=true&prevExist=true&ttl=", label="dir ttl removed")
    c.req("PUT", f"{p}/h?dir=true&prevExist=false", label="mkdir create")
    c.req("PUT", f"{p}/h?dir=true&prevExist=false", label="mkdir create again: 105")
    c.req("PUT", f"{p}/nodir?dir=true&prevExist=true&ttl=5", label="dir update missing: 100")
    c.req("POST", f"{p}/d?dir=true", label="POST dir=true: in-order dir")
    c.req("GET", f"{p}?recursive=true&sorted=true")
    c.req("DELETE", f"{p}?recursive=true")


@case("through_a_file", items=(20,))
def through_file(c):
    p = f"{K}/tf"
    c.send("PUT", f"{p}/a/b", form={"value": "v"})
    c.req("PUT", f"{p}/a", form={"value": "v"}, label="value on dir: 102")
    c.req("PUT", f"{p}/a?prevValue=x", form={"value": "v"}, label="prevValue CAS on dir: 102")
    c.req("PUT", f"{p}/a/b/c", form={"value": "v"}, label="PUT under file: 104 cause=file")
    c.req("GET", f"{p}/a/b/c/d", label="GET under file")
    c.req("POST", f"{p}/a/b", form={"value": "v"}, label="POST to file")
    c.req("POST", f"{p}/a/b/c", form={"value": "v"}, label="POST under file")
    c.req("GET", f"{p}/x/y/z", label="100 cause first missing")
    c.req("GET", f"{p}/a/x/y", label="100 cause first missing (deeper)")
    c.req("DELETE", f"{p}/a/x/y", label="DELETE missing deep")
    c.req("DELETE", f"{p}?recursive=true")


@case("deleting", items=(21,))
def deleting(c):
    p = f"{K}/dl"
    c.send("PUT", f"{p}/d/x", form={"value": "v"})
    c.send("PUT", f"{p}/f1", form={"value": "v"})
    c.send("PUT", f"{p}/f2", form={"value": "v"})
    c.send("PUT", f"{p}/e?dir=true")
    c.req("DELETE", f"{p}/d", label="dir without flags: 102")
    c.req("DELETE", f"{p}/d?dir=true", label="dir=true non-empty: 108")
    c.req("DELETE", f"{p}/f1?dir=true", label="dir=true on file works")
    c.req("DELETE", f"{p}/f2?recursive=true", label="recursive on file works")
    c.req("DELETE", f"{p}/e", label="empty dir without flags: 102")
    c.req("DELETE", f"{p}/e?dir=true", label="empty dir dir=true")
    c.req("DELETE", f"{K}/", label="root: 107")
    c.req("DELETE", f"{K}/?recursive=true", label="root recursive: 107")
    c.req("DELETE", f"{p}/zz", label="missing: 100")
    c.req("DELETE", f"{p}/d?recursive=true&prevValue=x", label="recursive with prevValue")
    c.req("DELETE", f"{p}?recursive=true")


@case("cas_failure_causes", items=(22,))
def cas(c):
    p = f"{K}/cas"
    c.req("PUT", f"{p}/a", form={"value": "current"})
    c.req("PUT", f"{p}/a?prevValue=wrong", form={"value": "x"}, label="value mismatch")
    c.req("PUT", f"{p}/a?prevIndex=999999", form={"value": "x"}, label="index mismatch")
    c.req("PUT", f"{p}/a?prevIndex=999999&prevValue=wrong", form={"value": "x"}, label="both")
    c.req("PUT", f"{p}/a?prevIndex=999999&prevValue=current", form={"value": "x"},
          label="value matches, index does not")
    c.req("PUT", f"{p}/a?prevExist=false&prevValue=current", form={"value": "x"},
          label="prevExist=false with prevValue: 105")
    c.req("PUT", f"{p}/zz?prevValue=a", form={"value": "x"}, label="prevValue on missing: 100")
    c.req("PUT", f"{p}/zz?prevIndex=3", form={"value": "x"}, label="prevIndex on missing: 100")
    c.req("PUT", f"{p}/zz?prevExist=true", form={"value": "x"}, label="prevExist on missing: 100")
    c.req("DELETE", f"{p}/a?prevValue=wrong", label="CAD value mismatch")
    c.req("DELETE", f"{p}/a?prevIndex=999999", label="CAD index mismatch")
    c.req("DELETE", f"{p}/a?prevIndex=999999&prevValue=wrong", label="CAD both")
    c.req("PUT", f"{p}/a?prevValue=current&prevExist=true", form={"value": "ok"}, label="CAS ok")
    c.req("PUT", f"{p}/a?prevIndex=0", form={"value": "x"}, label="prevIndex=0 means none")
    c.req("DELETE", f"{p}?recursive=true")


@case("in_order_keys", items=(23,))
def in_order(c):
    p = f"{K}/io"
    c.req("POST", f"{p}/q", form={"value": "first"}, label="POST creates parent dir")
    c.req("POST", f"{p}/q", form={"value": "second", "ttl": "100"})
    c.req("POST", f"{p}/q", label="POST without value")
    c.req("GET", f"{p}/q?sorted=true")
    c.req("POST", f"{p}/q?prevExist=true", form={"value": "x"}, label="POST with prevExist")
    c.req("POST", f"{K}/", form={"value": "x"}, label="POST to root")
    c.req("DELETE", f"{p}?recursive=true")


@case("hidden_keys", items=(24,))
def hidden(c):
    p = f"{K}/hid"
    c.send("PUT", f"{p}/_h", form={"value": "hidden"})
    c.send("PUT", f"{p}/v", form={"value": "visible"})
    c.send("PUT", f"{p}/_hd/x", form={"value": "in hidden dir"})
    c.send("PUT", f"{p}/d/_y", form={"value": "hidden child"})
    c.req("GET", f"{p}?sorted=true")
    c.req("GET", f"{p}?recursive=true&sorted=true")
    c.req("GET", f"{p}/_h", label="hidden read directly")
    c.req("GET", f"{p}/_hd?recursive=true", label="hidden dir read directly")
    c.req("GET", f"{p}/d", label="dir with only hidden child")
    c.req("DELETE", f"{p}?recursive=true")


@case("key_names", items=(25,))
def key_names(c):
    p = f"{K}/kn"
    c.req("PUT", f"{p}/a%2Fb", form={"value": "v"}, label="%2F makes a subdir")
    c.req("GET", f"{p}/a/b")
    c.req("PUT", f"{p}/x+y", form={"value": "v"}, label="+ literal")
    c.req("PUT", f"{p}/trail/", form={"value": "v"}, label="trailing slash stripped")
    c.req("GET", f"{p}/trail")
    c.req("PUT", f"{p}//dbl", form={"value": "v"}, label="// PUT: 301 empty body")
    c.req("GET", f"{p}/./a", label="/./ GET: 301")
    c.req("GET", f"{p}/a/../a", label="/../ GET: 301")
    c.req("GET", f"{p}/a%2F..%2Fa", label="encoded ../ is decoded, then cleaned: 301")
    c.req("GET", f"{p}/a/%2E%2E/a", label="encoded dots: 301")
    c.req("GET", f"{p}?sorted=true&recursive=true")
    c.req("DELETE", f"{p}?recursive=true")


@case("size_limits", items=(26,))
def size_limits(c):
    p = f"{K}/sz"
    c.req("PUT", f"{p}/" + "k" * 3000, form={"value": "v"}, label="3000-char key works")
    c.raw(f"GET {p}/{'k' * 4096} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), "4096-char key: reset")
    big = "v" * (5 << 20)
    c.req("PUT", f"{p}/big", form={"value": big}, label="5 MiB value")
    c.req("GET", f"{p}/big", label="5 MiB value read back")
    c.req("DELETE", f"{p}?recursive=true")


@case("no_value_on_success", items=(27,))
def no_value(c):
    p = f"{K}/nv"
    c.req("PUT", f"{p}/a?noValueOnSuccess=true", form={"value": "v"}, label="set")
    c.req("PUT", f"{p}/a?noValueOnSuccess=true&prevExist=true", form={"value": "w"}, label="update")
    c.req("PUT", f"{p}/b?noValueOnSuccess=true&prevExist=false", form={"value": "w"}, label="create")
    c.req("PUT", f"{p}/a?noValueOnSuccess=true&prevValue=w", form={"value": "x"}, label="CAS")
    c.req("POST", f"{p}/q?noValueOnSuccess=true", form={"value": "x"}, label="POST")
    c.req("PUT", f"{p}/a?noValueOnSuccess=true&prevValue=zz", form={"value": "x"}, label="error")
    c.req("DELETE", f"{p}/a?noValueOnSuccess=true", label="delete ignores it")
    c.req("GET", f"{p}/b?noValueOnSuccess=true", label="get ignores it")
    c.req("DELETE", f"{p}?recursive=true")
