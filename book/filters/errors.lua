-- errors.lua: how the book's filters report errors, shared by book.lua,
-- html.lua and epub.lua (loaded with require, like markers.lua).
--
-- Errors raised inside a pandoc walk reach the user mangled (pandoc
-- wraps them), so walk callbacks are guarded: the first error is kept
-- and raised again, intact, once the walk is over (errors.rethrow()).
-- And a filter's whole work runs under errors.main(build), which ends
-- pandoc with the message alone, not a Lua stack trace: the message
-- says what is wrong and where.

local errors = {}
local first_error = nil

function errors.guarded(fn)
  return function(x)
    if first_error then
      return nil
    end
    local ok, result = pcall(fn, x)
    if ok then
      return result
    end
    first_error = result
    return nil
  end
end

function errors.rethrow()
  if first_error then
    error(first_error, 0)
  end
end

-- The filter's Pandoc function: build(doc), with any error printed
-- plainly and pandoc stopped with status 1.
function errors.main(build)
  return function(doc)
    local ok, result = pcall(build, doc)
    if not ok then
      io.stderr:write(tostring(result), "\n")
      os.exit(1)
    end
    return result
  end
end

return errors
