-- wrk script for scripts/bench-api.sh. Sends GET requests rotating through the paths listed in
-- the file named by BENCH_PATHS (one already URL-encoded path a line, e.g. /search?q=oil&limit=10),
-- each thread starting at its own place in the list, so the run is not one cached query. At the
-- end it prints the run's numbers as one line, "wrk-json {...}" (latencies in microseconds), for
-- bench-api.sh to read; wrk's own --latency report is printed above it.
--
-- usage: BENCH_PATHS=paths.txt wrk -t2 -c16 -d30s --latency -s scripts/bench-api.lua http://HOST:PORT

local file = os.getenv("BENCH_PATHS") or error("BENCH_PATHS: set it to a file of request paths")
local paths = {}
for line in io.lines(file) do
  if line ~= "" then
    paths[#paths + 1] = line
  end
end
assert(#paths > 0, "no request paths in " .. file)

-- setup() runs once per thread in the main Lua state; it numbers the threads.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

-- Each thread's state: its requests, formatted once, and its place in the list.
local requests, next_request
function init(args)
  requests = {}
  for i, path in ipairs(paths) do
    requests[i] = wrk.format("GET", path)
  end
  -- Spread the threads' starting points over the list (id is set by setup).
  next_request = ((id or 0) * 101) % #requests
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'wrk-json {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,' ..
    '"p999":%d,"max":%d,"mean":%.1f,"stdev":%.1f},"paths":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, latency.stdev, #paths))
end
