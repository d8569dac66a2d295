-- wrk script for load_test.sh: counts the statuses, and the 5xx that the retry policy could not
-- have absorbed (x-attempts equals the policy's attempts: every attempt failed) apart from the
-- others. Prints one "key value" line per figure at the end.
local threads = {}
local attempts = os.getenv("QUOTE_ATTEMPTS") or "6"

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  exhausted = 0 -- 5xx after every attempt failed
  absorbable = 0 -- 5xx with attempts left: the policy should have retried
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 500 then
    if headers["x-attempts"] == attempts then
      exhausted = exhausted + 1
    else
      absorbable = absorbable + 1
    end
  end
end

function done(summary, latency, requests)
  local all, ex, ab = {}, 0, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do
      all[k] = (all[k] or 0) + v
    end
    ex = ex + t:get("exhausted")
    ab = ab + t:get("absorbable")
  end
  for k, v in pairs(all) do
    io.write(string.format("status_%d %d\n", k, v))
  end
  io.write(string.format("requests %d\n", summary.requests))
  io.write(string.format("duration_us %d\n", summary.duration))
  io.write(string.format("rps %.1f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50_us %d\n", latency:percentile(50)))
  io.write(string.format("p99_us %d\n", latency:percentile(99)))
  io.write(string.format("max_us %d\n", latency.max))
  io.write(string.format("errors_connect %d\n", summary.errors.connect))
  io.write(string.format("errors_read %d\n", summary.errors.read))
  io.write(string.format("errors_write %d\n", summary.errors.write))
  io.write(string.format("errors_timeout %d\n", summary.errors.timeout))
  io.write(string.format("exhausted_5xx %d\n", ex))
  io.write(string.format("absorbable_5xx %d\n", ab))
end
