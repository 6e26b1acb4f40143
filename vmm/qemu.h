/*
 * qemu: the QEMU backend of vmm.h. Exposed here what tests need, and the
 * backend's one setting.
 */
#ifndef SPRIG_QEMU_H
#define SPRIG_QEMU_H

#include "vmm.h"

/* File names inside a VM's run directory. */
#define QEMU_QMP_SOCK		"qmp.sock"
#define QEMU_AGENT_SOCK		"agent.sock"
#define QEMU_CONSOLE_SOCK	"console.sock"
#define QEMU_SERIAL_LOG		"serial.log"
#define QEMU_LOG		"qemu.log"
#define QEMU_PID_FILE		"qemu.pid"
/* The console log is kept under this size (plus one rotated file). */
#define QEMU_SERIAL_LOG_MAX	(1024 * 1024)

/*
 * Builds QEMU's argv for @cfg: locked down (-nodefaults, -no-user-config,
 * -sandbox), direct kernel boot, the disk as a qcow2 layer, QMP, the agent's
 * virtio-serial port and the console on the listening sockets passed as fds
 * (the VM starts paused: -S). Returns a NULL-terminated array; free each
 * string and the array.
 */
char **qemu_build_argv(const struct vm_config *cfg, const char *binary,
    const char *accel, int qmp_fd, int agent_fd, int console_fd);
void qemu_argv_free(char **argv);
/* The block node name of a layer file: "n" and its base name (newly allocated). */
char *qemu_node_name(const char *file);
/*
 * The kernel to give QEMU when it resumes a saved state: the bzImage's
 * header alone, "@kernel.head", made beside it the first time. QEMU's x86
 * loader reads the whole kernel into memory at start (~45 ms for Debian's
 * 14 MB cloud kernel under TCG here, mostly page faults), yet a resumed
 * guest never boots it again: the kernel only reaches the firmware through
 * fw_cfg, and a guest reboot ends the VM (-no-reboot). The ROMs and device
 * state come from the saved state, so nothing the guest sees changes.
 * Returns NULL (use @kernel) when @kernel is no bzImage or the file cannot
 * be written; the caller frees the result.
 */
char *qemu_resume_kernel(const char *kernel);
/*
 * A library to preload into every QEMU started from now on
 * (vmm/preload/qemu_preload.c), or NULL for none; copied. A path that does
 * not exist is ignored.
 */
void qemu_set_preload(const char *path);
/* The QEMU binary: $SPRIG_QEMU or qemu-system-x86_64. */
const char *qemu_binary(void);

#endif
