-- Load for graphconn's benchmark (bench/run.sh): wrk -s bench/load.lua URL -- METHOD PATH TOKEN
--
-- PATCH alternates two bodies that both change the operation (its status
-- goes between inprogress and unspecified, so that every request
-- writes); GET repeats one request. PUT creates a new item with every
-- request: PATH is the items' path and a prefix of their ids, which the
-- script completes with the thread's number and a counter; each body is
-- about 1 KB (5 properties, text content with a few words drawn from a
-- vocabulary, an ACL of three entries). done() prints one RESULT line of
-- JSON that bench/driver reads.
--
-- wrk counts every answer outside 2xx and 3xx by itself, at no cost. With
-- BENCH_STRICT=1 the script also counts every answer other than 200 exactly,
-- but wrk then hands each response to Lua, which slows the load generator
-- (and so understates fast servers) on a small machine: bench/driver checks
-- the exact statuses in graphconn's access log instead.

local threads = {}
local started = 0

function setup(thread)
  started = started + 1
  thread:set("tid", started)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local put, base, headers

-- words: the vocabulary of the items' content, so that a search for one
-- word finds a few percent of the items and two words fewer.
local words = {}
for i = 1, 200 do
  words[i] = string.format("w%03d", i)
end

local filler = string.rep("The payment gateway reported an error while processing the ticket. ", 8)

local function itemBody()
  local a, b, c = words[math.random(#words)], words[math.random(#words)], words[math.random(#words)]
  return '{"acl":[{"type":"everyone","value":"c0de","accessType":"grant"},' ..
    '{"type":"user","value":"e811976d-83df-4cbd-8b9b-5215b18aa874","accessType":"grant"},' ..
    '{"type":"externalGroup","value":"g' .. math.random(50) .. '","accessType":"deny"}],' ..
    '"properties":{"title":"Ticket ' .. a .. ' ' .. b .. '","priority":' .. math.random(5) .. ',' ..
    '"tags@odata.type":"Collection(String)","tags":["' .. a .. '","support"],' ..
    '"created":"2026-11-' .. string.format("%02d", math.random(30)) .. 'T12:00:00Z","owner":"agent' .. math.random(20) .. '"},' ..
    '"content":{"type":"text","value":"' .. a .. ' ' .. b .. ' ' .. c .. '. ' .. filler .. '"}}'
end

function init(args)
  local method, path, token = args[1], args[2], args[3]
  headers = { ["Authorization"] = "Bearer " .. token }
  math.randomseed(os.time() + (tid or 0))
  if method == "PATCH" then
    headers["Content-Type"] = "application/json"
    reqs[1] = wrk.format("PATCH", path, headers, '{"status":"inprogress"}')
    reqs[2] = wrk.format("PATCH", path, headers, '{"status":"unspecified","error":null}')
  elseif method == "PUT" then
    headers["Content-Type"] = "application/json"
    put, base = true, path .. "t" .. (tid or 0) .. "n"
  else
    reqs[1] = wrk.format(method, path, headers)
  end
  non200 = 0
end

function request()
  n = n + 1
  if put then
    return wrk.format("PUT", base .. n, headers, itemBody())
  end
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
