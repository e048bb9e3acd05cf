-- Load for graphconn's benchmark (bench/run.sh): wrk -s bench/load.lua URL -- METHOD PATH TOKEN
--
-- PATCH alternates two bodies that both change the operation (its status
-- goes between inprogress and unspecified, so that every request
-- writes); GET repeats one request. done() prints
-- one RESULT line of JSON that bench/driver reads.
--
-- wrk counts every answer outside 2xx and 3xx by itself, at no cost. With
-- BENCH_STRICT=1 the script also counts every answer other than 200 exactly,
-- but wrk then hands each response to Lua, which slows the load generator
-- (and so understates fast servers) on a small machine: bench/driver checks
-- the exact statuses in graphconn's access log instead.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0

function init(args)
  local method, path, token = args[1], args[2], args[3]
  local headers = { ["Authorization"] = "Bearer " .. token }
  if method == "PATCH" then
    headers["Content-Type"] = "application/json"
    reqs[1] = wrk.format("PATCH", path, headers, '{"status":"inprogress"}')
    reqs[2] = wrk.format("PATCH", path, headers, '{"status":"unspecified","error":null}')
  else
    reqs[1] = wrk.format(method, path, headers)
  end
  non200 = 0
end

function request()
  n = n + 1
  return reqs[n % #reqs + 1]
end

if os.getenv("BENCH_STRICT") == "1" then
  function response(status, headers, body)
    if status ~= 200 then
      non200 = non200 + 1
    end
  end
end

function done(summary, latency, requests)
  local non200 = 0
  for _, t in ipairs(threads) do
    non200 = non200 + t:get("non200")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"strict":%s,"non200":%d,"non2xx3xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, tostring(response ~= nil), non200, e.status, e.connect, e.read, e.write, e.timeout))
end
