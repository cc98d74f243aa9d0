-- book.lua: the book's first pass over one chapter (book/NAME.md).
--
-- It turns the chapter's placeholders into content taken from the
-- repository, so that nothing in the book can drift from the code:
--
--   ```{.listing file="steps/step4.c" name="run-loop"}
--   ```                       the lines between the source's markers
--                             (no name: the whole file)
--   ```{.output run="step4"}
--   ```                       a program's real output on each KVM, as a
--                             console (book/runs, book/outputs/), or an
--                             excerpt of it (from=, to=)
--   ```{.diff from="steps/step3.c" to="steps/step4.c"}
--   ```                       the change between two files, made now
--   ::: {.exercises glob="exercises/04-*"}
--   :::                       the chapter's exercises, from their READMEs
--                             (nothing at all when there are none)
--   ::: {.ioctl-index glob="steps/step*.c"}
--   (a definition list) :::   appendix B: each ioctl gets the steps whose
--                             source uses it; an ioctl a step uses that the
--                             list lacks, or the reverse, is an error
--
-- A C or assembly block written into the chapter by hand is refused
-- unless it carries the class .partial (a deliberately partial
-- fragment). Headers get identifiers prefixed with the chapter's name,
-- the first one the chapter's name itself, so that identifiers are
-- unique across the whole book.
--
-- Metadata (pandoc -M): book-root (where the paths start, default "."),
-- book-chapter (the chapter's name, default "doc"), book-out (the
-- output directory, to check that images exist), book-info (a file to
-- write the chapter's title, identifiers and listings to, for the later
-- passes). Any error stops pandoc, and so the build.

local dir = PANDOC_SCRIPT_FILE:match("(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
local markers = require("markers")
local errors = require("errors")

local stringify = pandoc.utils.stringify

local guarded, rethrow = errors.guarded, errors.rethrow

local root = "."
local chapter = "doc"
local out_dir = nil
local info_path = nil
local used = {}      -- listings used, in order: { file, name }

local function meta_string(meta, key)
  if meta[key] == nil then
    return nil
  end
  return stringify(meta[key])
end

local function path_of(rel)
  if rel:sub(1, 1) == "/" then
    return rel
  end
  return root .. "/" .. rel
end

local function fail(msg)
  error("book: " .. chapter .. ": " .. msg, 0)
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- Expand tabs to the next multiple of 8 columns (the kernel's style, in
-- which the steps are written), so every reader shows the same layout.
local function expand_tabs(line)
  local out, col = {}, 0
  for ch in line:gmatch("[%z\1-\127\194-\244][\128-\191]*") do
    if ch == "\t" then
      local n = 8 - col % 8
      out[#out + 1] = string.rep(" ", n)
      col = col + n
    else
      out[#out + 1] = ch
      col = col + 1
    end
  end
  return table.concat(out)
end

local LANGUAGES = {
  c = "c", h = "c", S = "gnuassembler", s = "gnuassembler",
  ld = "", mk = "makefile", sh = "bash", t = "bash", dot = "dot",
  md = "markdown", lua = "lua",
}

local function language_of(file)
  local base = file:match("([^/]*)$")
  if base == "Makefile" then
    return "makefile"
  end
  local ext = base:match("%.([^.]+)$")
  return ext and LANGUAGES[ext] or ""
end

-- A caption paragraph above a block.
local function caption(inlines)
  return pandoc.Div({ pandoc.Para(inlines) }, pandoc.Attr("", { "caption" }))
end

-- ```{.listing file=F name=N}```: the lines of F between N's markers.
local function listing(block)
  local file = block.attributes.file
  local name = block.attributes.name
  if not file or file == "" then
    fail("a listing without file=")
  end
  if block.text:match("%S") then
    fail("the listing of " .. file .. " has text of its own: listings come from the file only")
  end
  local src = markers.parse(path_of(file))
  local first, last
  if name and name ~= "" then
    local m = src.markers[name]
    if not m then
      fail("no marker \"" .. name .. "\" in " .. file
        .. " (it has: " .. (#src.order > 0 and table.concat(src.order, ", ") or "none") .. ")")
    end
    first, last = m.begin + 1, m.finish - 1
  else
    first, last = 1, #src.lines
  end
  local lines, gaps = {}, false
  for n = first, last do
    local line = src.lines[n]
    if markers.is_marker(line) then
      gaps = true
    else
      lines[#lines + 1] = expand_tabs(line)
    end
  end
  while #lines > 0 and not lines[#lines]:match("%S") do
    lines[#lines] = nil
  end
  if #lines == 0 then
    fail("the listing " .. (name or "") .. " of " .. file .. " is empty")
  end
  used[#used + 1] = { file, name or "" }

  local classes = {}
  local lang = block.attributes.lang or language_of(file)
  if lang ~= "" then
    classes[#classes + 1] = lang
  end
  local attrs = {}
  local where
  if gaps then
    where = pandoc.Str("")
  else
    classes[#classes + 1] = "numberLines"
    attrs.startFrom = tostring(first)
    where = pandoc.Str(string.format(", lines %d–%d", first, first + #lines - 1))
  end
  local head = { pandoc.Code(file), where }
  if block.attributes.note then
    head[#head + 1] = pandoc.Str(": ")
    for _, i in ipairs(pandoc.read(block.attributes.note, "markdown").blocks[1].content) do
      head[#head + 1] = i
    end
  end
  return pandoc.Div({
    caption(head),
    pandoc.CodeBlock(table.concat(lines, "\n"), pandoc.Attr("", classes, attrs)),
  }, pandoc.Attr(block.identifier, { "listing" }, { file = file, marker = name or "" }))
end

-- ```{.output run=NAME}```: what book/runs' command NAME printed, and its
-- exit status, as recorded on each KVM in book/outputs/KVM/ (make
-- book-outputs; tests/book-outputs.t proves them). Each KVM's output is
-- shown under a caption that names it; KVMs that printed the same share
-- one block. kvm="kvm_amd ..." shows only those KVMs; title= leads the
-- caption; expect="device-error" says the text expects a step's message
-- about a missing or wrong device, which is refused anywhere else.
-- from="TEXT" and to="TEXT" show an excerpt: from the first line that
-- holds from's TEXT (plain text; without from=, the first line) to the
-- first line from there that holds to's (without to=, the last); "[...]"
-- stands for the lines left out, and the exit status is shown only when
-- the excerpt runs to the end. A TEXT a recording lacks fails the build.
-- A run flagged "boot" in book/runs (it boots Linux) or "slow" (it runs
-- much guest kernel code) is not recorded on the KVMs of SLOW_KERNEL,
-- which run a guest's kernel code slowly (as book/tools/record-outputs.sh
-- says): they are not looked for.
local KVMS = { "kvm_amd", "kvm_intel", "kvm_pvm" }
local SLOW_KERNEL = { kvm_pvm = true }
local runs = nil

-- The run NAME of book/runs: its command and its flags (a set of words),
-- or nil. A line's fields are separated by single tabs, empty ones too:
-- NAME, COMMAND, MASK, FLAGS.
local function run_of(name)
  if not runs then
    runs = {}
    local lines, err = markers.read_lines(path_of("book/runs"))
    if not lines then
      fail("cannot read book/runs: " .. tostring(err))
    end
    for _, line in ipairs(lines) do
      if not line:match("^#") and line:match("%S") then
        local fields = {}
        for f in (line .. "\t"):gmatch("([^\t]*)\t") do
          fields[#fields + 1] = f
        end
        local flags = {}
        for word in (fields[4] or ""):gmatch("%S+") do
          flags[word] = true
        end
        if fields[2] and fields[2] ~= "" then
          runs[fields[1]] = { command = fields[2], flags = flags }
        end
      end
    end
  end
  return runs[name]
end

-- The words a step prints when the device is missing or is not KVM.
local function device_error(text)
  return text:find("Run it in the lab instead", 1, true)
    or text:find("is not a KVM device", 1, true)
    or text:find("/dev/[%w_-]+ does not exist")
end

-- excerpt(lines, from, to, where): the first and last line numbers of
-- the excerpt from= and to= ask for (plain text, either may be nil).
local function excerpt(lines, from, to, where)
  local first, last = 1, #lines
  if from then
    first = nil
    for i, line in ipairs(lines) do
      if line:find(from, 1, true) then
        first = i
        break
      end
    end
    if not first then
      fail(where .. ": no line holds from=\"" .. from .. "\"")
    end
  end
  if to then
    last = nil
    for i = first, #lines do
      if lines[i]:find(to, 1, true) then
        last = i
        break
      end
    end
    if not last then
      fail(where .. ": no line from \"" .. (from or "the start") .. "\" on holds to=\"" .. to .. "\"")
    end
  end
  return first, last
end

-- recorded(kvm, name, cmd, from, to): the console text of one recorded
-- run (or of its excerpt), and the KVM's description from
-- book/outputs/KVM/KVM; nil when not recorded. A console's line ends
-- in \r\n (Linux's serial console): the \r is dropped.
local function recorded(kvm, name, cmd, from, to)
  local base = "book/outputs/" .. kvm .. "/" .. name
  local lines = markers.read_lines(path_of(base .. ".out"))
  if not lines then
    return nil
  end
  for i, line in ipairs(lines) do
    lines[i] = line:gsub("\r$", "")
  end
  local status = markers.read_lines(path_of(base .. ".status"))
  if not status or not status[1] then
    fail("book/outputs/" .. kvm .. "/" .. name .. ".status is missing (make book-outputs)")
  end
  local first, last = excerpt(lines, from, to, "output run=" .. name .. " on " .. kvm)
  local shown = { "$ " .. cmd }
  if first > 1 then
    shown[#shown + 1] = "[...]"
  end
  for i = first, last do
    shown[#shown + 1] = lines[i]
  end
  if last < #lines then
    shown[#shown + 1] = "[...]"
  else
    shown[#shown + 1] = "$ echo $?"
    shown[#shown + 1] = status[1]
  end
  local about = markers.read_lines(path_of("book/outputs/" .. kvm .. "/KVM"))
  return table.concat(shown, "\n"), (about and about[1]) or kvm, first > 1 or last < #lines
end

local function output(block)
  local name = block.attributes.run
  if not name then
    fail("an output block needs run=NAME, a run of book/runs")
  end
  local run = run_of(name)
  if not run then
    fail("output run=" .. name .. ": no such run in book/runs")
  end
  local cmd = run.command
  local wanted = {}
  for _, kvm in ipairs(KVMS) do
    if not ((run.flags.boot or run.flags.slow) and SLOW_KERNEL[kvm]) then
      wanted[#wanted + 1] = kvm
    end
  end
  if block.attributes.kvm then
    wanted = {}
    for kvm in block.attributes.kvm:gmatch("%S+") do
      if (run.flags.boot or run.flags.slow) and SLOW_KERNEL[kvm] then
        fail("output run=" .. name .. " kvm=" .. kvm .. ": a " .. (run.flags.boot and "boot" or "slow run")
          .. " (book/runs) is not recorded on " .. kvm .. ", which runs a guest's kernel code slowly")
      end
      wanted[#wanted + 1] = kvm
    end
  end
  local from, to = block.attributes.from, block.attributes.to
  local expect_error = block.attributes.expect == "device-error"
  local groups = {}   -- { text, abouts }, in the order of KVMS
  for _, kvm in ipairs(wanted) do
    local text, about, part = recorded(kvm, name, cmd, from, to)
    if not text and (kvm == "kvm_amd" or block.attributes.kvm) then
      fail("output run=" .. name .. ": nothing recorded on " .. kvm
        .. " (book/outputs/" .. kvm .. "/" .. name .. ".out): make book-outputs")
    end
    if text then
      if device_error(text) and not expect_error then
        fail("output run=" .. name .. " on " .. kvm .. " is a device error, not a guest's output:"
          .. " record it on a KVM (make book-outputs), or, if the text is about that error,"
          .. " mark the block expect=\"device-error\":\n" .. text)
      elseif expect_error and not device_error(text) then
        fail("output run=" .. name .. " on " .. kvm .. " was expected to show a device error:\n" .. text)
      end
      local group = nil
      for _, g in ipairs(groups) do
        if g.text == text then
          group = g
        end
      end
      if group then
        group.abouts[#group.abouts + 1] = about
      else
        groups[#groups + 1] = { text = text, abouts = { about }, part = part }
      end
    end
  end
  local blocks = {}
  for _, g in ipairs(groups) do
    local where = "On " .. g.abouts[1]
    for i = 2, #g.abouts do
      where = where .. (i == #g.abouts and " and " or ", ") .. g.abouts[i]
    end
    if #g.abouts > 1 then
      where = where .. ", alike"
    end
    if g.part then
      where = where .. ", an excerpt"
    end
    local lead = {}
    if block.attributes.title then
      lead = pandoc.read(block.attributes.title, "markdown").blocks[1].content
      local last = lead[#lead]
      if last and last.t == "Str" then
        last.text = last.text:gsub(":$", "")
      end
      lead[#lead + 1] = pandoc.Str(",")
      lead[#lead + 1] = pandoc.Space()
      where = where:gsub("^On", "on")
    end
    lead[#lead + 1] = pandoc.Str(where .. ":")
    blocks[#blocks + 1] = caption(lead)
    blocks[#blocks + 1] = pandoc.CodeBlock(g.text, pandoc.Attr("", { "console" }))
  end
  return pandoc.Div(blocks, pandoc.Attr(block.identifier, { "output" }, { run = name }))
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- ```{.diff from=A to=B}```: diff -u A B, made at build time.
local function diff(block)
  local from, to = block.attributes.from, block.attributes.to
  if not from or not to then
    fail("a diff block needs from= and to=")
  end
  for _, f in ipairs({ from, to }) do
    if not exists(path_of(f)) then
      fail("the diff needs " .. f .. ", which does not exist")
    end
  end
  local cmd = string.format("diff -u --label %s --label %s %s %s", shell_quote(from),
    shell_quote(to), shell_quote(path_of(from)), shell_quote(path_of(to)))
  local p = io.popen(cmd, "r")
  local text = p:read("a")
  local _, _, code = p:close()
  if code == 0 then
    fail("no difference between " .. from .. " and " .. to)
  elseif code ~= 1 then
    fail("diff failed on " .. from .. " and " .. to)
  end
  local added, removed = 0, 0
  local lines = {}
  for line in text:gmatch("(.-)\n") do
    if line:match("^%+") and not line:match("^%+%+%+ ") then
      added = added + 1
    elseif line:match("^%-") and not line:match("^%-%-%- ") then
      removed = removed + 1
    end
    lines[#lines + 1] = expand_tabs(line)
  end
  local head = { pandoc.Str("The whole change from "), pandoc.Code(from),
    pandoc.Str(" to "), pandoc.Code(to), pandoc.Str(string.format(
      ": %d lines added, %d removed.", added, removed)) }
  return pandoc.Div({
    caption(head),
    pandoc.CodeBlock(table.concat(lines, "\n"), pandoc.Attr("", { "diff" })),
  }, pandoc.Attr(block.identifier, { "diff" }, { from = from, to = to }))
end

local HAND_WRITTEN = { c = true, h = true, cpp = true, gnuassembler = true, asm = true,
  nasm = true, s = true, S = true }

local function code_block(block)
  if block.classes:includes("listing") then
    return listing(block)
  elseif block.classes:includes("output") then
    return output(block)
  elseif block.classes:includes("diff") and block.attributes.from then
    return diff(block)
  end
  for _, c in ipairs(block.classes) do
    if HAND_WRITTEN[c] and not block.classes:includes("partial") then
      fail("a " .. c .. " block written by hand (add .partial if it is a deliberate fragment,"
        .. " or use a .listing from the sources):\n" .. block.text:sub(1, 200))
    end
  end
  if block.classes:includes("partial") then
    return pandoc.Div({
      caption({ pandoc.Str("A fragment to show the idea, not a listing from the sources:") }),
      block,
    }, pandoc.Attr("", { "partial" }))
  end
  return nil
end

-- The blocks of a README's section whose header mentions "check".
local function check_section(blocks)
  local out, inside, level = {}, false, nil
  for _, b in ipairs(blocks) do
    if b.t == "Header" then
      if inside and b.level <= level then
        break
      end
      if not inside and stringify(b):lower():match("check") then
        inside, level = true, b.level
      end
    elseif inside then
      out[#out + 1] = b
    end
  end
  return out
end

-- ::: {.exercises glob=G} :::: one entry per directory matching G that
-- has a README.md; the whole section disappears when there is none.
local function exercises(div)
  local glob = div.attributes.glob
  if not glob then
    fail("an exercises block needs glob=")
  end
  local p = io.popen("cd " .. shell_quote(root) .. " && ls -d " .. glob .. " 2>/dev/null", "r")
  local found = {}
  for d in p:lines() do
    if exists(path_of(d .. "/README.md")) then
      found[#found + 1] = d
    end
  end
  p:close()
  table.sort(found)
  if #found == 0 then
    return {}
  end
  local items = {}
  for _, d in ipairs(found) do
    local f = io.open(path_of(d .. "/README.md"), "rb")
    local readme = pandoc.read(f:read("a"), "markdown")
    f:close()
    local name = d:match("([^/]*)$")
    local title, summary = nil, nil
    for _, b in ipairs(readme.blocks) do
      if b.t == "Header" and not title then
        -- "# 04-decimal: Print a number in decimal" -> the part after the name
        title = stringify(b):gsub("^" .. name:gsub("%-", "%%-") .. ":%s*", "")
      elseif b.t == "Para" and not summary then
        summary = b
      end
    end
    local item = { pandoc.Para({ pandoc.Strong({ pandoc.Str(title or name) }),
      pandoc.Str(" ("), pandoc.Code(d .. "/"), pandoc.Str(")") }) }
    if summary then
      item[#item + 1] = summary
    end
    local check = check_section(readme.blocks)
    if #check > 0 then
      item[#item + 1] = pandoc.Para({ pandoc.Str("The check verifies:") })
      for _, b in ipairs(check) do
        item[#item + 1] = b
      end
    end
    item[#item + 1] = pandoc.Para({ pandoc.Str("Check your work with "),
      pandoc.Code("make exercise EX=" .. name), pandoc.Str("; "),
      pandoc.Code("make hint EX=" .. name), pandoc.Str(" gives a hint, and the solution is "),
      pandoc.Code("solutions/" .. name .. ".diff"), pandoc.Str(". The README in the"
        .. " exercise’s directory has the details.") })
    items[#items + 1] = item
  end
  return {
    pandoc.Header(2, { pandoc.Str("Exercises") }),
    pandoc.Para({ pandoc.Str("Each exercise is a directory under "), pandoc.Code("exercises/"),
      pandoc.Str(" with starting files that build but fail their check, and "),
      pandoc.Code("TODO"), pandoc.Str(" marks where your work goes. "),
      pandoc.Code("make exercises"), pandoc.Str(" shows your progress through all of them.") }),
    pandoc.OrderedList(items),
  }
end

-- A reference to step N: a link to its chapter, or, while that chapter
-- is not written yet (a step may come before its chapter), plain text.
local function step_ref(n, label)
  local f = io.open(path_of("book/step" .. n .. ".md"), "r")
  if not f then
    return pandoc.Str(label)
  end
  f:close()
  return pandoc.Link({ pandoc.Str(label) }, "#step" .. n)
end

local function ioctls_of(path)
  local lines = markers.read_lines(path_of(path))
  local found = {}
  for _, line in ipairs(lines or {}) do
    for name in line:gmatch("ioctl%s*%([^,()]+,%s*(KVM_[%u%d_]+)") do
      found[name] = true
    end
  end
  return found
end

-- ::: {.ioctl-index glob="steps/step*.c"} with a definition list inside,
-- one term per ioctl (its name in `code`): each definition gets the
-- steps that use it, and a list of what each step adds comes first.
-- An ioctl a step uses but the list lacks, or one the list describes but
-- no step uses, is an error: the appendix cannot drift from the code.
local function ioctl_index(div)
  local p = io.popen("cd " .. shell_quote(root) .. " && ls " .. div.attributes.glob .. " 2>/dev/null")
  local steps = {}
  for f in p:lines() do
    local n = tonumber(f:match("step(%d+)%.c$"))
    if n then
      steps[#steps + 1] = { n = n, file = f, uses = ioctls_of(f) }
    end
  end
  p:close()
  table.sort(steps, function(a, b) return a.n < b.n end)
  if #steps == 0 then
    fail("ioctl-index: no step matches " .. tostring(div.attributes.glob))
  end
  local list
  for _, b in ipairs(div.content) do
    if b.t == "DefinitionList" then
      list = b
    end
  end
  if not list then
    fail("ioctl-index: no definition list inside")
  end
  local described = {}
  for _, item in ipairs(list.content) do
    local names = {}
    for _, i in ipairs(item[1]) do
      if i.t == "Code" then
        names[#names + 1] = i.text
        described[i.text] = true
      end
    end
    if #names == 0 then
      fail("ioctl-index: a term without its ioctl name in `code`")
    end
    local name = table.concat(names, " and ")
    local users = {}
    for _, s in ipairs(steps) do
      local uses = false
      for _, n in ipairs(names) do
        uses = uses or s.uses[n]
      end
      if uses then
        if #users > 0 then
          users[#users + 1] = pandoc.Str(", ")
        end
        users[#users + 1] = step_ref(s.n, "step " .. s.n)
      end
    end
    if #users == 0 then
      fail("ioctl-index: " .. name .. " is described, but no step uses it")
    end
    local defs = item[2]
    local used = pandoc.Para({ pandoc.Emph({ pandoc.Str("Used in: ") }) })
    for _, u in ipairs(users) do
      used.content:insert(u)
    end
    if #defs == 0 then
      defs[1] = { used }
    else
      table.insert(defs[#defs], used)
    end
  end
  local by_step, seen = {}, {}
  for _, s in ipairs(steps) do
    local new = {}
    for name in pairs(s.uses) do
      if not described[name] then
        fail("ioctl-index: " .. s.file .. " uses " .. name .. ", which the list does not describe")
      end
      if not seen[name] then
        new[#new + 1] = name
      end
    end
    table.sort(new)
    for _, name in ipairs(new) do
      seen[name] = true
    end
    local inl = { step_ref(s.n, "Step " .. s.n), pandoc.Str(": ") }
    if #new == 0 then
      inl[#inl + 1] = pandoc.Str("no new ioctls")
    end
    for i, name in ipairs(new) do
      if i > 1 then
        inl[#inl + 1] = pandoc.Str(", ")
      end
      inl[#inl + 1] = pandoc.Code(name)
    end
    by_step[#by_step + 1] = { pandoc.Plain(inl) }
  end
  local out = { pandoc.Para({ pandoc.Str("What each step adds (taken from the steps’ sources when"
    .. " this book was built):") }), pandoc.BulletList(by_step) }
  for _, b in ipairs(div.content) do
    out[#out + 1] = b
  end
  return out
end

local function slugify(text)
  local s = text:lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if s == "" then
    s = "section"
  end
  return s
end

-- Give every header an identifier unique in the whole book; collect the
-- title and every identifier for the info file.
local function number_headers(doc)
  local seen, title, ids = {}, nil, {}
  local h1 = 0
  doc = doc:walk({
    Header = guarded(function(h)
      if h.level == 1 then
        h1 = h1 + 1
        if h1 > 1 then
          fail("a second level-1 header (\"" .. stringify(h) .. "\"): each chapter has"
            .. " exactly one, its title")
        end
        title = stringify(h)
        h.identifier = chapter
      elseif h.identifier == "" then
        local base = chapter .. "-" .. slugify(stringify(h))
        local id, n = base, 1
        while seen[id] do
          n = n + 1
          id = base .. "-" .. n
        end
        h.identifier = id
      end
      if seen[h.identifier] then
        fail("the identifier #" .. h.identifier .. " is used twice")
      end
      seen[h.identifier] = true
      return h
    end),
  })
  rethrow()
  if not title then
    fail("no level-1 header: each chapter starts with its title")
  end
  doc:walk({
    Block = function(b)
      if b.identifier and b.identifier ~= "" and b.t ~= "Header" then
        ids[#ids + 1] = b.identifier
      end
    end,
    Inline = function(i)
      if i.identifier and i.identifier ~= "" then
        ids[#ids + 1] = i.identifier
      end
    end,
  })
  for id in pairs(seen) do
    ids[#ids + 1] = id
  end
  table.sort(ids)
  return doc, title, ids
end

local function check_images(doc)
  doc:walk({
    Image = guarded(function(img)
      if img.src:match("^%a+:") then
        fail("image " .. img.src .. " is not part of the book: images come from book/diagrams/")
      end
      if out_dir and not exists(out_dir .. "/" .. img.src) then
        fail("missing image " .. img.src .. " (looked for " .. out_dir .. "/" .. img.src .. ")")
      end
      -- The caption names a figure; the alt text is what a reader who
      -- cannot see it gets instead: what the diagram shows, in words.
      local alt = img.attributes.alt
      if not alt or not alt:match("%S") then
        fail("image " .. img.src .. " has no alt text: write what the diagram shows,"
          .. " ![caption](" .. img.src .. "){alt=\"...\"}")
      elseif alt == stringify(img.caption) then
        fail("image " .. img.src .. ": its alt text repeats its caption: say what the diagram shows")
      end
    end),
  })
  rethrow()
end

local function build(doc)
  root = meta_string(doc.meta, "book-root") or "."
  chapter = meta_string(doc.meta, "book-chapter") or "doc"
  out_dir = meta_string(doc.meta, "book-out")
  info_path = meta_string(doc.meta, "book-info")

  doc = doc:walk({
    CodeBlock = guarded(code_block),
    Div = guarded(function(div)
      if div.classes:includes("exercises") then
        return exercises(div)
      elseif div.classes:includes("ioctl-index") then
        return ioctl_index(div)
      end
    end),
  })
  rethrow()
  local title, ids
  doc, title, ids = number_headers(doc)
  check_images(doc)
  doc.meta.pagetitle = pandoc.MetaString(title)

  if info_path then
    local f = assert(io.open(info_path, "wb"))
    f:write("title\t", title, "\n")
    for _, id in ipairs(ids) do
      f:write("id\t", id, "\n")
    end
    for _, u in ipairs(used) do
      f:write("listing\t", u[1], "\t", u[2], "\n")
    end
    f:close()
  end
  return doc
end

-- Errors end pandoc with the message alone (errors.lua).
Pandoc = errors.main(build)
