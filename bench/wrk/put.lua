-- PUT of distinct keys with 100-byte values.
-- Usage: wrk ... -s put.lua URL -- <key-prefix>
-- Each wrk thread gets its own number, and each request takes the next value of that
-- thread's counter, so no key is ever written twice within one run; the prefix keeps
-- separate runs apart. The body is a form like the one etcdctl and python-etcd send.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
end

local prefix
local counter = 0
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local body = "value=" .. string.rep("v", 100)

function init(args)
  prefix = (args[1] or "/v2/keys/bench/put") .. "/t" .. thread_number .. "-"
end

function request()
  counter = counter + 1
  return wrk.format("PUT", prefix .. counter, headers, body)
end
