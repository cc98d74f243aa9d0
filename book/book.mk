# book/book.mk: the course book, built from the code it teaches.
#
#   make book         HTML (one page per chapter + contents) and EPUB in build/book/
#   make book-check   the book, then its chapters and links (part of make check)
#   make book-outputs record the runs the chapters show (book/runs) on this
#                     machine's KVM and in the lab, into book/outputs/
#   make book-render-check  every page rendered in headless Chromium, at laptop
#                     and phone widths, each diagram's smallest text measured
#                     (make deps-render installs Chromium)
#   make book-epub-check  the EPUB through EPUBCheck: no error, no warning
#                     (make deps-render installs it; it needs Java)
#
# How it is made (see book/README.md):
#   1. book/diagrams/NAME.dot  -> build/book/img/NAME.svg            (graphviz)
#      and one drawn from a recorded run: chapter 11's gdb session
#      (tools/gdb-sequence.pl -> build/book/dot/gdb-session.dot -> SVG)
#      and a chart drawn from one: chapter 13's figures (bench/chart.gp,
#      gnuplot -> build/book/img/bench-lab.svg)
#   2. the runs the chapters show <- book/outputs/KVM/NAME.out   (recorded on
#      real KVMs by make book-outputs, proven by make check)
#   3. book/NAME.md -> build/book/ast/NAME.json + NAME.info           (filters/book.lua)
#      listings, outputs and diffs are pulled from the repository here
#   4. each JSON -> build/book/NAME.html                              (filters/html.lua)
#   5. all JSON  -> build/book/kvm-step-by-step.epub                  (filters/epub.lua)
# Pandoc runs with --fail-if-warnings: a warning fails the build.

BOOK_OUT := build/book
BOOK_CHECK_OUT := build/book-check
PANDOC ?= pandoc
DOT ?= dot
GNUPLOT ?= gnuplot
CHROMIUM ?= chromium

# The chapters in reading order; book/NAME.md each. A chapter not written
# yet is left out (the contents page lists what exists).
BOOK_ORDER := preface background step1 step2 step3 step4 step5 step6 step7 step8 step9 step10 step11 step12 step13 \
	appendix-exits appendix-ioctls appendix-troubleshooting appendix-lab
BOOK_CHAPTERS := $(foreach c,$(BOOK_ORDER),$(if $(wildcard book/$(c).md),$(c)))
BOOK_PAGES := index $(BOOK_CHAPTERS)

BOOK_FILTERS := $(wildcard book/filters/*.lua)
BOOK_DIAGRAMS := $(patsubst book/diagrams/%.dot,$(BOOK_OUT)/img/%.svg,$(wildcard book/diagrams/*.dot)) \
	$(BOOK_OUT)/img/gdb-session.svg $(BOOK_OUT)/img/bench-lab.svg
# Steps whose chapter is being written: book-check does not ask for it
# yet, and their listing markers wait for it. Empty it when the chapter
# comes (a step may come first, its chapter next).
BOOK_PENDING :=
# Files with listing markers: every marker in them must be shown by a chapter.
BOOK_MARKED := $(sort $(filter-out $(patsubst %,steps/%.c,$(BOOK_PENDING)),$(wildcard steps/*.c)) \
	$(wildcard guest/*.S guest/*.c guest/*.h))
# Everything a chapter may pull in.
BOOK_INPUTS := $(BOOK_MARKED) $(wildcard guest/*.ld tests/golden/*.out exercises/*/README.md)

# The runs the chapters show (book/runs) are not run here: their outputs
# are recorded on real KVMs (book/outputs/KVM/NAME.out and .status, made
# by make book-outputs: this machine's KVM if it has one, and kvm_amd in
# the lab) and proven by make check (tests/book-outputs.t runs them again
# and compares). So the book builds anywhere, KVM or not, QEMU or not,
# and reads the same whichever machine built it.
BOOK_OUTPUTS := book/runs $(wildcard book/outputs/*/*)

BOOK_HTML := $(patsubst %,$(BOOK_OUT)/%.html,$(BOOK_PAGES))
BOOK_EPUB := $(BOOK_OUT)/kvm-step-by-step.epub

# Chromium is for the render check alone, a large download that make check
# does without: make deps-render installs it, and EPUBCheck (Java) for the
# EPUB check, both run by CI (.ci/run) beside make check.
RENDER_DEB_PACKAGES := chromium epubcheck
.PHONY: deps-render
deps-render:
	$(Q)$(MAKE) --no-print-directory deps DEB_PACKAGES='$(RENDER_DEB_PACKAGES)'

help::
	@echo '  make book            the book: HTML and EPUB in build/book/'
	@echo '  make book-check      build the book, check its chapters and links (in make check)'
	@echo '  make book-outputs    record the runs the chapters show, on this KVM and in the lab'
	@echo '  make book-render-check  render it in headless Chromium (make deps-render first)'
	@echo '  make book-epub-check    check the EPUB with EPUBCheck (make deps-render first)'

.PHONY: book book-check book-render-check book-epub-check book-clean
book: book-tools $(BOOK_HTML) $(BOOK_OUT)/book.css $(BOOK_EPUB)
	@echo "  BOOK    $(BOOK_OUT)/index.html and $(BOOK_EPUB)"
	@echo "  BOOK    its outputs: those recorded on $(sort $(notdir $(wildcard book/outputs/kvm_*))) in book/outputs/ (make check proves them; no KVM or QEMU needed to build)"

# The tools the book needs, or one line that names them and make deps.
.PHONY: book-tools
book-tools:
	$(Q)missing=; for tool in $(PANDOC) $(DOT) $(GNUPLOT) zip unzip; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	[ -z "$$missing" ] || { echo "book:$$missing not installed: sudo make deps installs what the book needs" >&2; exit 2; }

# make check builds and checks the book too (not a test in tests/: the
# suite also runs inside the lab, on a read-only tree, without a browser).
check: book-check

book-check: book
	@echo "  CHECK   a chapter for every step and every chapter of BOOK_ORDER$(if $(BOOK_PENDING), (pending: $(BOOK_PENDING)))"
	$(Q)for c in $(filter-out $(BOOK_PENDING),$(STEPS)) $(BOOK_ORDER); do [ -f book/$$c.md ] || \
		{ echo "book-check: book/$$c.md is missing" >&2; exit 1; }; done
	@echo "  CHECK   links and images in $(BOOK_OUT)"
	$(Q)perl book/tools/check-links.pl $(BOOK_OUT)

book-render-check: book
	$(Q)command -v $(CHROMIUM) >/dev/null || { echo "book-render-check: $(CHROMIUM) is not installed: sudo make deps-render" >&2; exit 2; }
	@echo "  CHECK   every page in $(CHROMIUM) at 1280 and 400 px: diagrams fit, their text at least 11 and 9 px (screenshots in $(BOOK_CHECK_OUT))"
	$(Q)CHROMIUM=$(CHROMIUM) book/tools/render-check.sh $(BOOK_OUT) $(BOOK_CHECK_OUT) $(BOOK_PAGES)

# EPUBCheck, the reference validator: not one error, not one warning.
# Run through java -jar: Debian's /usr/bin/epubcheck is the jar itself,
# which runs only where binfmt_misc knows jars (not in containers).
EPUBCHECK_JAR ?= /usr/share/java/epubcheck.jar
book-epub-check: book
	$(Q)command -v java >/dev/null && [ -f $(EPUBCHECK_JAR) ] || \
		{ echo "book-epub-check: EPUBCheck ($(EPUBCHECK_JAR)) or java is not installed: sudo make deps-render" >&2; exit 2; }
	@echo "  CHECK   $(BOOK_EPUB) with EPUBCheck"
	$(Q)java -jar $(EPUBCHECK_JAR) $(BOOK_EPUB) >$(BOOK_OUT)/epubcheck.log 2>&1; \
	grep -E '^(FATAL|ERROR|WARNING)' $(BOOK_OUT)/epubcheck.log >&2; \
	summary=$$(grep -E '^Messages:' $(BOOK_OUT)/epubcheck.log); \
	echo "  $$summary"; \
	case $$summary in *" 0 fatals / 0 errors / 0 warnings "*) ;; \
	*) echo "book-epub-check: EPUBCheck found problems (all of its output: $(BOOK_OUT)/epubcheck.log)" >&2; exit 1;; esac

book-clean:
	rm -rf $(BOOK_OUT) $(BOOK_CHECK_OUT)

$(BOOK_OUT) $(BOOK_OUT)/img $(BOOK_OUT)/ast:
	$(Q)mkdir -p $@

# 1. Diagrams. dot's warnings (a typo in an attribute) fail the build too.
# Graphviz starts each SVG with a document type that names SVG 1.1's DTD,
# an external entity that EPUB 3 forbids (EPUBCheck's HTM-003, OPF-073):
# it is taken out, for both formats, and the build fails if one remains.
# Made again when this file changes: an SVG made by an older rule (with
# its DOCTYPE) must not outlive it.
define dot_to_svg
	@echo "  DOT     $@"
	$(Q)$(DOT) -Tsvg -o $@.tmp $< 2>$@.err; status=$$?; \
	if [ $$status -ne 0 ] || [ -s $@.err ]; then cat $@.err >&2; rm -f $@.tmp $@.err; exit 1; fi; \
	rm -f $@.err; perl -0pi -e 's/<!DOCTYPE[^>]*>\n?//' $@.tmp; \
	if grep -q '<!DOCTYPE' $@.tmp; then echo "book: $@ still has a <!DOCTYPE>" >&2; rm -f $@.tmp; exit 1; fi; \
	mv $@.tmp $@
endef
$(BOOK_OUT)/img/%.svg: book/diagrams/%.dot book/book.mk | $(BOOK_OUT)/img
	$(dot_to_svg)

# A diagram made from a recorded run: chapter 11's sequence diagram of a
# gdb session's packets, drawn from the lab's --trace-gdb log of it, so
# that it shows what the step and gdb really said to each other.
$(BOOK_OUT)/dot/gdb-session.dot: book/outputs/kvm_amd/step11-session.out book/tools/gdb-sequence.pl
	$(Q)mkdir -p $(@D)
	$(Q)perl book/tools/gdb-sequence.pl $< >$@.tmp && mv $@.tmp $@

$(BOOK_OUT)/img/%.svg: $(BOOK_OUT)/dot/%.dot book/book.mk | $(BOOK_OUT)/img
	$(dot_to_svg)

# A chart made from a recorded run: chapter 13's, make bench's chart
# (bench/chart.gp) of the figures step 13 measured in the lab, from the
# CSV at the end of the recording (book/runs: step13), so that it
# changes when the recording does.
$(BOOK_OUT)/img/bench-lab.svg: book/outputs/kvm_amd/step13.out bench/chart.gp book/book.mk | $(BOOK_OUT)/img
	@echo "  GNUPLOT $@"
	$(Q)sed -n '/^figure,by,/,$$p' $< >$(BOOK_OUT)/bench-lab.csv
	$(Q)machine=$$(sed -n "/^step13: KVM: /{s///;s/'//g;p;}" $< | head -n 1); \
	$(GNUPLOT) -e "csv='$(BOOK_OUT)/bench-lab.csv'; svg='$@.tmp'; machine='$$machine'" bench/chart.gp && \
	mv $@.tmp $@

# 2. Runs: recorded by make book-outputs, on this machine's KVM when it
# has a usable one, and always in the lab (kvm_amd): each KVM's outputs
# replace its directory in book/outputs/. Commit them; tests/book-outputs.t
# fails until they match what the steps print. The lab's console carries
# the recordings (a base64 tar) and its kernel's messages: dmesg -n 1
# keeps those off it (a boot of Linux makes the lab's KVM report the
# MSRs it does not handle), and only base64 lines are decoded.
.PHONY: book-outputs
book-outputs: $(STEPS) guests $(TEST_GUESTS) $(BUILD)/kvm-probe linux
	$(Q)rm -rf $(BUILD)/book-outputs && mkdir -p $(BUILD)/book-outputs
	$(Q)if $(BUILD)/kvm-probe >/dev/null; then \
		kvm=$$(book/tools/record-outputs.sh --kind) && \
		echo "  RECORD  book/outputs/$$kvm/ (this machine's KVM)" && \
		book/tools/record-outputs.sh $(BUILD)/book-outputs/$$kvm && \
		book/tools/record-outputs.sh --update $(BUILD)/book-outputs/$$kvm book/outputs/$$kvm; \
	else echo "  RECORD  (no usable KVM on this machine: the lab's alone)"; fi
	@echo "  RECORD  book/outputs/kvm_amd/ (in the lab)"
	$(Q)lab/run cmd 'dmesg -n 1; book/tools/record-outputs.sh --tar' >$(BUILD)/book-outputs/lab.b64
	$(Q)mkdir -p $(BUILD)/book-outputs/kvm_amd && \
		grep -E '^[A-Za-z0-9+/=]+$$' $(BUILD)/book-outputs/lab.b64 | base64 -d | tar -x -C $(BUILD)/book-outputs/kvm_amd && \
		book/tools/record-outputs.sh --update $(BUILD)/book-outputs/kvm_amd book/outputs/kvm_amd
	$(Q)git status --short book/outputs

# 3. The first pass, one chapter at a time.
$(BOOK_OUT)/ast/%.json: book/%.md $(BOOK_FILTERS) $(BOOK_INPUTS) $(BOOK_DIAGRAMS) $(BOOK_OUTPUTS) | $(BOOK_OUT)/ast
	@echo "  PANDOC  $@"
	$(Q)$(PANDOC) --fail-if-warnings -f markdown-auto_identifiers \
		--lua-filter book/filters/book.lua -M book-chapter=$* -M book-out=$(BOOK_OUT) \
		-M book-info=$(BOOK_OUT)/ast/$*.info -t json -o $@ $<

BOOK_ASTS := $(patsubst %,$(BOOK_OUT)/ast/%.json,$(BOOK_PAGES))

# 4. One HTML page per chapter, with links resolved across the book.
$(BOOK_OUT)/%.html: $(BOOK_OUT)/ast/%.json $(BOOK_ASTS) book/template.html book/filters/html.lua
	@echo "  HTML    $@"
	$(Q)$(PANDOC) --fail-if-warnings -f json --lua-filter book/filters/html.lua \
		-M book-chapter=$* -M book-order='$(BOOK_PAGES)' -M book-info-dir=$(BOOK_OUT)/ast \
		--template book/template.html --highlight-style=tango -s -t html5 -o $@ $<

$(BOOK_OUT)/book.css: book/book.css | $(BOOK_OUT)
	$(Q)cp $< $@

# 5. The EPUB: all chapters but the contents page (the reader makes its own).
# Its metadata: book/metadata.yaml (title, language, identifier, rights),
# the date of the last commit (none outside a git clone: pandoc then
# writes today's), and the accessibility metadata pandoc cannot write,
# added afterwards by tools/epub-meta.sh.
BOOK_DATE := $(shell git log -1 --format=%cs 2>/dev/null)
$(BOOK_EPUB): $(BOOK_ASTS) book/metadata.yaml book/epub.css book/filters/epub.lua $(BOOK_MARKED) \
		book/epub-accessibility.xml book/tools/epub-meta.sh
	@echo "  EPUB    $@"
	$(Q)$(PANDOC) --fail-if-warnings -f markdown book/metadata.yaml \
		--lua-filter book/filters/epub.lua \
		-M book-parts='$(filter-out %/index.json,$(BOOK_ASTS))' -M book-sources='$(BOOK_MARKED)' \
		$(if $(BOOK_DATE),-M date=$(BOOK_DATE)) \
		--resource-path=$(BOOK_OUT) --css book/epub.css --highlight-style=tango \
		--epub-chapter-level=1 --toc --toc-depth=1 -o $@.tmp.epub
	$(Q)book/tools/epub-meta.sh $@.tmp.epub book/epub-accessibility.xml && mv $@.tmp.epub $@
