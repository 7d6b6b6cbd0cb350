-- wrk script: every request POSTs the next webhook delivery of a file, each at most once.
-- Usage: wrk ... --script signed_posts.lua URL -- DELIVERIES_FILE THREADS
-- A line is "webhook-id<TAB>webhook-timestamp<TAB>webhook-signature<TAB>body"; thread n of
-- THREADS takes lines n, n + THREADS, ... (as unique_paths.lua does with paths).

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  lines = {}
  local threads = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % threads == id then
      lines[#lines + 1] = line
    end
    n = n + 1
  end
  position = 0
end

function request()
  position = position + 1
  local line = lines[(position - 1) % #lines + 1]
  local webhook_id, timestamp, signature, body = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)")
  return wrk.format("POST", "/bigcommerce/webhooks", {
    ["webhook-id"] = webhook_id,
    ["webhook-timestamp"] = timestamp,
    ["webhook-signature"] = signature,
    ["Content-Type"] = "application/json",
  }, body)
end
