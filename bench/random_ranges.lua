-- wrk script for bench/: every request asks for BENCH_RANGE_SIZE bytes at a random offset of an object of
-- BENCH_OBJECT_SIZE bytes (IGV's access pattern); the seed makes runs repeatable per repetition.
local object_size = tonumber(os.getenv("BENCH_OBJECT_SIZE"))
local range_size = tonumber(os.getenv("BENCH_RANGE_SIZE"))
local seed = tonumber(os.getenv("BENCH_SEED") or "1")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_seed", seed * 100 + #threads)
end

function init(args)
  not_partial = 0
  math.randomseed(thread_seed)
  if range_size > object_size then
    range_size = object_size
  end
end

function request()
  local first = math.random(0, object_size - range_size)
  wrk.headers["Range"] = "bytes=" .. first .. "-" .. (first + range_size - 1)
  return wrk.format("GET", wrk.path)
end

function response(status, headers, body)
  -- wrk counts only 4xx/5xx as errors; a 200 (the whole object) or a redirect would also be wrong here.
  if status ~= 206 then
    not_partial = not_partial + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("not_partial")
  end
  io.write("Not 206 responses: " .. total .. "\n")
end
