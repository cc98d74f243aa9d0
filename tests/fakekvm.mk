# tests/fakekvm.mk: build/tests/fakekvm.so, the LD_PRELOAD library with
# which tests fake a KVM that fails in one chosen way (see tests/fakekvm.c).
# Never sanitized, whatever SANITIZE says: it is loaded into the steps
# from outside.

FAKEKVM := $(BUILD)/tests/fakekvm.so

$(FAKEKVM): tests/fakekvm.c
	@echo "  CC      $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARNINGS) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

test-prereqs: $(FAKEKVM)
