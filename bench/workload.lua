-- The benchmark's closed-loop workload for wrk (bench/run-wrk.sh runs it): the same key names, key order
-- and value bytes against metcd's HTTP API and etcd's v3 JSON gateway, so the two compare like for like,
-- and one RESULT line at the end for scripts/bench-report.py.
--
-- Environment (run-wrk.sh sets the first group from its arguments):
--   API=kv|etcd        metcd's API (PUT /key, GET /key) or etcd's gateway (POST /v3/kv/put, /v3/kv/range)
--   OP=put|get
--   MODE=random|fill   random keys, or every key once in order (one wrk thread), ending the run when done
--   LEVEL              kv reads: ?level=stale|default|consistent (unset: the server's default)
--   SERIALIZABLE=1     etcd reads: serializable instead of linearizable
--   WRK_THREADS, WRK_CONNS, LABEL (free text copied into the RESULT line)
--   KEYSPACE=100000    keys KEY_PREFIX .. zero-padded index (at least 6 digits), index in [0, KEYSPACE)
--   KEY_PREFIX=bench-  VALUE_SIZE=256 (printable bytes, the same in every request and run)  SEED=1
--   MAX_REQUESTS=2000000  per run, split over the threads: a thread that reaches its share ends the run
--   CHECK=1            inspect every answer and count hits and misses (fill always does)
--
-- RESULT line: requests secs ops_s p50_ms p90_ms p99_ms p999_ms max_ms mean_ms, wrk's error counts
-- (err_connect err_read err_write err_status err_timeout; err_status counts answers that are not 2xx or
-- 3xx), capped (1 when the request cap ended the run), hits and misses ("-" when not inspected).

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end
local function env_number(name, default)
  return assert(tonumber(env(name, default)), name .. " must be a number")
end

local api, op, mode = env("API", "kv"), env("OP", "put"), env("MODE", "random")
assert(api == "kv" or api == "etcd", "API must be kv or etcd")
assert(op == "put" or op == "get", "OP must be put or get")
assert(mode == "random" or mode == "fill", "MODE must be random or fill")
local keyspace = env_number("KEYSPACE", 100000)
local value_size = env_number("VALUE_SIZE", 256)
local key_prefix = env("KEY_PREFIX", "bench-")
local seed = env_number("SEED", 1)
local max_requests = env_number("MAX_REQUESTS", 2000000)
local threads_count = env_number("WRK_THREADS", 1)
local inspect = env("CHECK", "0") == "1" or mode == "fill"

local key_format = "%s%0" .. math.max(6, #tostring(keyspace - 1)) .. "d"
local function key(i) return string.format(key_format, key_prefix, i) end

-- Cycling through a 62-letter alphabet with a stride prime to 62 gives a value no run compresses better.
local value
do
  local letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
  local out = {}
  for i = 1, value_size do
    local j = (i * 7919) % #letters + 1
    out[i] = letters:sub(j, j)
  end
  value = table.concat(out)
end

-- etcd's gateway takes keys and values in base64.
local function base64(s)
  local bit = require("bit")
  local digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local function digit(n) return digits:sub(n + 1, n + 1) end
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = bit.bor(bit.lshift(a, 16), bit.lshift(b or 0, 8), c or 0)
    out[#out + 1] = digit(bit.band(bit.rshift(n, 18), 63)) .. digit(bit.band(bit.rshift(n, 12), 63))
      .. (b and digit(bit.band(bit.rshift(n, 6), 63)) or "=") .. (c and digit(bit.band(n, 63)) or "=")
  end
  return table.concat(out)
end

-- The request for key index i: built once per key in random mode, where keys repeat (after warm-up a
-- request costs one table lookup); built each time in fill mode, where each key is sent once, so a cache
-- would only grow (to gigabytes at millions of keys, whose collections held wrk's one thread for seconds).
local build
if api == "kv" then
  local level = env("LEVEL", nil)
  local query = level and ("?level=" .. level) or ""
  local put_headers = { ["Content-Type"] = "application/octet-stream" }
  build = op == "put"
    and function(i) return wrk.format("PUT", "/" .. key(i), put_headers, value) end
    or function(i) return wrk.format("GET", "/" .. key(i) .. query) end
else
  local headers = { ["Content-Type"] = "application/json" }
  local tail = op == "put" and ('","value":"' .. base64(value) .. '"}')
    or (env("SERIALIZABLE", "0") == "1" and '","serializable":true}' or '"}')
  local path = op == "put" and "/v3/kv/put" or "/v3/kv/range"
  build = function(i) return wrk.format("POST", path, headers, '{"key":"' .. base64(key(i)) .. tail) end
end
local request_for = build
if mode ~= "fill" then
  local requests_by_index = {}
  request_for = function(i)
    local r = requests_by_index[i]
    if r == nil then r = build(i); requests_by_index[i] = r end
    return r
  end
end

-- Whether an answer did what was asked: a kv write 204, a kv read 200 (a 404 is a miss); etcd answers
-- 200 either way, with the new revision for a write and "kvs" for a read that found its key.
local function succeeded(status, body)
  if api == "kv" then
    if op == "put" then return status == 204 or status == 200 end
    return status == 200
  end
  return status == 200 and body:find(op == "put" and '"revision"' or '"kvs"', 1, true) ~= nil
end

---------------------------------------------------------------------------------------------- main state
-- wrk runs setup() and done() in its main Lua state, the rest once per thread; a thread's globals are
-- read back through the handle setup() was given.
local handles = {}

function setup(thread)
  handles[#handles + 1] = thread
  thread:set("thread_id", #handles - 1)
end

local function summed(global)
  local n = 0
  for _, thread in ipairs(handles) do n = n + (thread:get(global) or 0) end
  return n
end

function done(summary, latency, _)
  local secs = summary.duration / 1e6
  local function ms(percentile) return string.format("%.3f", latency:percentile(percentile) / 1000) end
  local function inspected(global) return inspect and tostring(summed(global)) or "-" end
  local fields = {
    { "requests", summary.requests }, { "secs", string.format("%.2f", secs) },
    { "ops_s", string.format("%.0f", summary.requests / secs) },
    { "p50_ms", ms(50) }, { "p90_ms", ms(90) }, { "p99_ms", ms(99) }, { "p999_ms", ms(99.9) },
    { "max_ms", string.format("%.3f", latency.max / 1000) }, { "mean_ms", string.format("%.3f", latency.mean / 1000) },
    { "err_connect", summary.errors.connect }, { "err_read", summary.errors.read },
    { "err_write", summary.errors.write }, { "err_status", summary.errors.status },
    { "err_timeout", summary.errors.timeout }, { "capped", summed("capped") },
    { "hits", inspected("hits") }, { "misses", inspected("misses") },
  }
  local line = { "RESULT", env("LABEL", "-") }
  for _, f in ipairs(fields) do line[#line + 1] = f[1] .. "=" .. tostring(f[2]) end
  io.write(table.concat(line, " "), "\n")
end

-------------------------------------------------------------------------------- each thread's own state
-- Ends the whole run as Ctrl-C would: wrk's main thread (its tid is the pid) wakes from its sleep and
-- reports the time really spent, where thread:stop() would leave it waiting out -d.
local function end_run()
  local ffi = require("ffi")
  pcall(ffi.cdef, "int getpid(void); int tgkill(int tgid, int tid, int sig);")
  local pid = ffi.C.getpid()
  ffi.C.tgkill(pid, pid, 2)
end

local sent, quota, answered, last_answer = 0, math.huge, 0, math.huge
hits, misses, capped = 0, 0, 0 -- globals: done() reads them through thread:get

function init(_)
  math.randomseed(seed * 1000 + (thread_id or 0))
  quota = math.ceil(max_requests / threads_count)
  if mode == "fill" then
    assert(threads_count == 1, "MODE=fill takes one wrk thread")
    -- The first pass ends at request KEYSPACE; each connection's request in flight then is most likely
    -- answered once one more answer per connection has come.
    last_answer = keyspace + env_number("WRK_CONNS", 1)
  end
end

function request()
  sent = sent + 1
  if sent == quota then capped = 1; end_run() end
  -- fill: in order, starting over after the first pass until the run ends
  return request_for(mode == "fill" and (sent - 1) % keyspace or math.random(0, keyspace - 1))
end

-- Installed only when answers are inspected: with no response() wrk does not parse them.
if inspect then
  function response(status, _, body)
    if succeeded(status, body) then hits = hits + 1 else misses = misses + 1 end
    answered = answered + 1
    if answered == last_answer then end_run() end
  end
end
