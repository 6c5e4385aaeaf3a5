-- GET of the one key named by the URL (wrk's default request); this script only adds
-- the machine-readable report.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
