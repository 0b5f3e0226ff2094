-- wrk script: POST the JSON body in $WRK_BODY (with $WRK_API_KEY as X-API-Key when set) and
-- print one machine-readable summary line, so the caller parses no human-formatted units.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("WRK_API_KEY")
if key ~= nil and key ~= "" then
  wrk.headers["X-API-Key"] = key
end

done = function(summary, latency, requests)
  local e = summary.errors
  local percentiles = {}
  for _, p in ipairs({1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99}) do
    percentiles[#percentiles + 1] = string.format('"%s": %d', p, latency:percentile(p))
  end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "max_us": %d, "percentiles_us": {%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.max, table.concat(percentiles, ", ")))
end
