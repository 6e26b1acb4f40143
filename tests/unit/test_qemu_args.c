/* QEMU's command line: locked down, direct boot, disk and sockets by fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/qemu.h"

static const struct vm_config cfg = {
	.name = "dev",
	.run_dir = "/home/u/.local/share/sprig/run/dev",
	.kernel = "/img/vmlinuz",
	.initrd = "/img/initrd.img",
	.disk = "/layers/abc.qcow2",
	.mem_mb = 256,
	.cpus = 2,
	.boot_timeout_ms = 1000,
};

/* The value after option @opt, or NULL. */
static const char *
arg_after(char **argv, const char *opt, int nth)
{
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (strcmp(argv[i], opt) == 0 && argv[i + 1] != NULL && nth-- == 0)
			return argv[i + 1];
	}
	return NULL;
}

static int
has_arg(char **argv, const char *want)
{
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (strcmp(argv[i], want) == 0)
			return 1;
	}
	return 0;
}

static void
test_tcg(void **state)
{
	char **argv = qemu_build_argv(&cfg, "qemu-system-x86_64", "tcg", 7, 8, 9);

	assert_string_equal(argv[0], "qemu-system-x86_64");
	assert_true(has_arg(argv, "-nodefaults"));
	assert_true(has_arg(argv, "-no-user-config"));
	assert_true(has_arg(argv, "-S"));
	assert_true(has_arg(argv, "-no-reboot"));
	assert_non_null(strstr(arg_after(argv, "-sandbox", 0), "on,"));
	assert_non_null(strstr(arg_after(argv, "-sandbox", 0), "spawn=deny"));
	assert_string_equal(arg_after(argv, "-accel", 0), "tcg,tb-size=64");
	assert_string_equal(arg_after(argv, "-m", 0), "256");
	assert_string_equal(arg_after(argv, "-smp", 0), "2");
	assert_string_equal(arg_after(argv, "-kernel", 0), "/img/vmlinuz");
	assert_string_equal(arg_after(argv, "-initrd", 0), "/img/initrd.img");
	assert_non_null(strstr(arg_after(argv, "-append", 0), "sprig.hostname=dev"));
	assert_non_null(strstr(arg_after(argv, "-blockdev", 0), "\"filename\":\"/layers/abc.qcow2\""));
	assert_string_equal(arg_after(argv, "-device", 0), "virtio-blk-pci,drive=nabc");
	assert_string_equal(arg_after(argv, "-chardev", 0), "socket,id=qmp,fd=7,server=on,wait=off");
	assert_string_equal(arg_after(argv, "-chardev", 1), "socket,id=agent,fd=8,server=on,wait=off");
	assert_string_equal(arg_after(argv, "-chardev", 2), "socket,id=console,fd=9,server=on,wait=off");
	assert_non_null(strstr(arg_after(argv, "-device", 2), "name=org.sprig.agent"));
	/* No network device, no shared host directory. */
	assert_false(has_arg(argv, "-netdev"));
	assert_false(has_arg(argv, "-virtfs"));
	qemu_argv_free(argv);
}

static void
test_kvm(void **state)
{
	char **argv = qemu_build_argv(&cfg, "/usr/bin/qemu", "kvm", 3, 4, 5);

	assert_string_equal(arg_after(argv, "-accel", 0), "kvm");
	assert_string_equal(arg_after(argv, "-cpu", 0), "host");
	qemu_argv_free(argv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcg),
		cmocka_unit_test(test_kvm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
