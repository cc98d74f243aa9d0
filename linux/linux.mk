# linux/linux.mk: make linux, the kernel and the initramfs that step 10
# boots, under build/linux/:
#
#   vmlinuz            the lab's kernel (lab/run kernel fetches it: this
#                      machine's own when readable, else Debian's package),
#                      a stock bzImage
#   initramfs.cpio.gz  busybox-static and linux/init, the /init that
#                      prints step 10's marker line, what Linux found, and
#                      powers off (or gives a shell: ./step10 --shell)

.PHONY: linux linux-kernel
LINUX_DIR := $(BUILD)/linux
BUSYBOX := $(shell command -v busybox 2>/dev/null)

linux: $(LINUX_DIR)/vmlinuz $(LINUX_DIR)/initramfs.cpio.gz

# The kernel's package changes with Debian's updates, so lab/run is
# asked each time (a second, when cached); the copy is made only when
# the kernel changed, so that nothing after it is remade for nothing.
$(LINUX_DIR)/vmlinuz: linux-kernel
	@:
linux-kernel:
	$(Q)mkdir -p $(LINUX_DIR)
	$(Q)src=$$(lab/run kernel) && [ -f "$$src" ] || { echo "make linux: lab/run kernel found no kernel" >&2; exit 1; }; \
	if ! cmp -s "$$src" $(LINUX_DIR)/vmlinuz; then \
		echo "  CP      $(LINUX_DIR)/vmlinuz (from $${src#$(CURDIR)/})"; cp "$$src" $(LINUX_DIR)/vmlinuz; fi

# The initramfs: a newc cpio archive (what the kernel unpacks), gzip'ed,
# of busybox (statically linked: the archive has no libc), linux/init as
# /init, and the directories /init mounts things on. Owned by root
# (-R 0:0) whoever builds it; sorted, so the same inputs give the same
# archive.
$(LINUX_DIR)/initramfs.cpio.gz: linux/init linux/linux.mk $(BUSYBOX)
	@echo "  CPIO    $@"
	$(Q)[ -n "$(BUSYBOX)" ] || { echo "busybox not found: install busybox-static (make deps does)" >&2; exit 1; }
	$(Q)! readelf -l $(BUSYBOX) 2>/dev/null | grep -q INTERP || \
		{ echo "$(BUSYBOX) is dynamically linked: install busybox-static (make deps does)" >&2; exit 1; }
	$(Q)rm -rf $(LINUX_DIR)/root && mkdir -p $(LINUX_DIR)/root/bin $(LINUX_DIR)/root/sbin \
		$(LINUX_DIR)/root/dev $(LINUX_DIR)/root/proc $(LINUX_DIR)/root/sys $(LINUX_DIR)/root/tmp
	$(Q)cp $(BUSYBOX) $(LINUX_DIR)/root/bin/busybox
	$(Q)install -m 755 linux/init $(LINUX_DIR)/root/init
	$(Q)(cd $(LINUX_DIR)/root && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 -n >$@
	$(Q)rm -rf $(LINUX_DIR)/root

# make run runs step 10 with these (Makefile: RUN_STEPS).
step10_RUN_ARGS := --kernel $(LINUX_DIR)/vmlinuz --initrd $(LINUX_DIR)/initramfs.cpio.gz
run: linux

help::
	@echo '  make linux           build/linux/: the kernel (the lab'"'"'s) and busybox initramfs step 10 boots:'
	@echo '                       ./step10 --kernel build/linux/vmlinuz --initrd build/linux/initramfs.cpio.gz'
