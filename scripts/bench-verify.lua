-- wrk script for scripts/bench-verify: each thread sends its share of (user, code) pairs once.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local count = tonumber(os.getenv("BENCH_THREADS"))
  local key = os.getenv("BENCH_KEY")
  headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  items = {}
  local line_number = 0
  for line in io.lines(os.getenv("BENCH_PAIRS")) do
    if line_number % count == id then table.insert(items, line) end
    line_number = line_number + 1
  end
  index = 0
  -- BENCH_CYCLE=1: start again at the first pair when all are sent (for requests refused before any code is
  -- checked, which use no token up).
  cycle = os.getenv("BENCH_CYCLE") == "1"
  accepted = 0
  refused = 0
  other = 0
  exhausted = 0
  first_ms = nil
  last_ms = 0
end

function request()
  index = index + 1
  if cycle and index > #items then index = 1 end
  local line = items[index]
  if line == nil then
    -- Every token of this thread has been used: ask for nothing that counts.
    exhausted = exhausted + 1
    return wrk.format("GET", "/health")
  end
  local user, code = line:match("(%S+) (%S+)")
  return wrk.format("POST", "/api/v1/users/" .. user .. "/verify", headers, '{"code":"' .. code .. '"}')
end

function response(status, headers, body)
  if status == 200 and body:find('"accepted"') then
    accepted = accepted + 1
  elseif status == 403 then
    refused = refused + 1
  elseif body:find('"status"') then
    -- a /health filler after exhaustion
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, r, o, e = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    r = r + thread:get("refused")
    o = o + thread:get("other")
    e = e + thread:get("exhausted")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("verifications: %d in %.1f s = %.0f/s\n", a + r + o, seconds, (a + r + o) / seconds))
  io.write(string.format("accepted: %d  refused: %d  other answers: %d\n", a, r, o))
  io.write(string.format("latency (all requests): p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  if e > 0 then
    io.write(string.format("NOTE: every token was used before the time was up; %d filler /health requests were sent. " ..
      "The rate above counts verifications only, but run again with more --users for a full-length run.\n", e))
  end
end
