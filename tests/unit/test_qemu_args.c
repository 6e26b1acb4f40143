/* QEMU's command line: locked down, direct boot, disk and sockets by fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	/* Without ERMS the guest copies with rep movsq, not byte by byte. */
	assert_string_equal(arg_after(argv, "-cpu", 0), "max,-erms");
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
	/* Devices added later come last, in order, so the devices before
	 * each keep the PCI slots they had without it. */
	assert_string_equal(arg_after(argv, "-device", 3), "virtio-scsi-pci,id=scsi0");
	assert_string_equal(arg_after(argv, "-device", 4),
	    "virtio-balloon-pci,id=balloon0,free-page-reporting=on");
	assert_null(arg_after(argv, "-device", 5));
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

/* Writes a kernel file of @len bytes: a bzImage header with @setup_sects
 * (when @magic), the rest a pattern. Returns its path (a static buffer). */
static const char *
write_kernel(const char *dir, size_t len, unsigned char setup_sects, int magic)
{
	static char path[256];
	unsigned char *buf = calloc(1, len);
	FILE *f;

	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7);
	if (len > 0x206) {
		buf[0x1f1] = setup_sects;
		memcpy(buf + 0x202, magic ? "HdrS" : "NoPe", 4);
	}
	snprintf(path, sizeof path, "%s/vmlinuz", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
	return path;
}

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A resume gets the kernel's setup code and a page past it, made once. */
static void
test_resume_kernel(void **state)
{
	char dir[] = "/tmp/sprig-test-kernel.XXXXXX", *head, cmd[300];
	const char *kernel;

	assert_non_null(mkdtemp(dir));
	kernel = write_kernel(dir, 1 << 20, 39, 1);
	head = qemu_resume_kernel(kernel);
	assert_non_null(head);
	assert_non_null(strstr(head, "/vmlinuz.head"));
	assert_int_equal(file_size(head), (39 + 1) * 512 + 4096);
	snprintf(cmd, sizeof cmd, "cmp -s -n %d %s %s", (39 + 1) * 512 + 4096, kernel, head);
	assert_int_equal(system(cmd), 0);
	free(head);
	/* Made once: a later resume finds it. */
	head = qemu_resume_kernel(kernel);
	assert_int_equal(file_size(head), (39 + 1) * 512 + 4096);
	free(head);
	snprintf(cmd, sizeof cmd, "%s/vmlinuz.head", dir);
	unlink(cmd);

	/* Setup sectors 0 means 4 (the boot protocol). */
	kernel = write_kernel(dir, 1 << 20, 0, 1);
	head = qemu_resume_kernel(kernel);
	assert_int_equal(file_size(head), (4 + 1) * 512 + 4096);
	free(head);
	unlink(cmd);

	/* Not a bzImage, or too short: the caller keeps the whole kernel. */
	kernel = write_kernel(dir, 1 << 20, 39, 0);
	assert_null(qemu_resume_kernel(kernel));
	kernel = write_kernel(dir, 0x300, 39, 1);
	assert_null(qemu_resume_kernel(kernel));
	assert_int_equal(file_size(cmd), -1);
	snprintf(cmd, sizeof cmd, "%s/nothing", dir);
	assert_null(qemu_resume_kernel(cmd));
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcg),
		cmocka_unit_test(test_kvm),
		cmocka_unit_test(test_resume_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
