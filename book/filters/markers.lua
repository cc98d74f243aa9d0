-- markers.lua: reads the listing markers of a source file.
--
-- A source marks the parts the book shows with two comment lines:
--
--     /* listing: NAME */
--     ...the lines the book shows...
--     /* end listing: NAME */
--
-- NAME is letters, digits, '-' and '_', unique within the file. Listings
-- may nest or overlap; the marker lines themselves are never shown. This
-- module is shared by the book's filters (book.lua, epub.lua) and raises
-- an error, which stops pandoc and so the build, on anything malformed.

local M = {}

local BEGIN = "^%s*/%*%s*listing:%s*([%w_%-]+)%s*%*/%s*$"
local END = "^%s*/%*%s*end listing:%s*([%w_%-]+)%s*%*/%s*$"
-- Anything that starts like a marker but does not match exactly.
local LOOKS_LIKE = "^%s*/%*%s*[Ee]?[Nn]?[Dd]?%s*[Ll][Ii][Ss][Tt][Ii][Nn][Gg]%s*:"

local cache = {}

-- Read a whole file as a list of lines (without their newlines), or
-- return nil and the reason.
function M.read_lines(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err
  end
  local text = f:read("a")
  f:close()
  local lines = {}
  for line in (text .. (text:sub(-1) == "\n" and "" or "\n")):gmatch("(.-)\n") do
    lines[#lines + 1] = line
  end
  if text == "" then
    lines = {}
  end
  return lines
end

-- Parse the markers of PATH. Returns { lines = {...}, markers = { NAME =
-- { begin = N, finish = N } }, order = { NAME, ... } } where begin and
-- finish are the line numbers of the two marker lines. Errors name the
-- file and the line.
function M.parse(path)
  if cache[path] then
    return cache[path]
  end
  local lines, err = M.read_lines(path)
  if not lines then
    error("listing: cannot read " .. path .. ": " .. tostring(err), 0)
  end
  local markers, order, open = {}, {}, {}
  local function fail(n, msg)
    error(string.format("listing: %s:%d: %s", path, n, msg), 0)
  end
  for n, line in ipairs(lines) do
    local b = line:match(BEGIN)
    local e = line:match(END)
    if b then
      if markers[b] then
        fail(n, "marker \"" .. b .. "\" is used twice in this file (first at line "
          .. markers[b].begin .. ")")
      end
      markers[b] = { begin = n }
      order[#order + 1] = b
      open[b] = true
    elseif e then
      if not open[e] then
        fail(n, "\"end listing: " .. e .. "\" has no \"listing: " .. e .. "\" open before it")
      end
      markers[e].finish = n
      open[e] = nil
    elseif line:match(LOOKS_LIKE) then
      fail(n, "malformed marker (write /* listing: NAME */ or /* end listing: NAME */): "
        .. line)
    end
  end
  for _, name in ipairs(order) do
    if open[name] then
      fail(markers[name].begin, "\"listing: " .. name .. "\" is never closed by \"end listing: "
        .. name .. "\"")
    end
  end
  cache[path] = { lines = lines, markers = markers, order = order }
  return cache[path]
end

-- Is this line a marker line (of any listing)?
function M.is_marker(line)
  return line:match(BEGIN) ~= nil or line:match(END) ~= nil
end

return M
