/*
 * image: the read-only kernel, initramfs and root filesystem that sprites
 * start from. An image is built from its recipe (images/<name>.sh) on first
 * use and cached under $SPRIG_HOME/images/<name>/<recipe hash>/; a changed
 * recipe or guest program makes a new build beside the old one, which the
 * sprites made from it keep using. A build goes to a temporary directory and
 * is renamed into place only when complete, so a half-built image is never
 * used.
 */
#ifndef SPRIG_IMAGE_H
#define SPRIG_IMAGE_H

#include <stdint.h>

struct loop;
struct store;
struct images;

#define IMAGE_DEFAULT	"minimal"

/* err 0 with the image build's row id, or a negative errno and a cause. */
typedef void (*image_ready_fn)(void *arg, int err, const char *cause, int64_t image_id);

/* @libexec holds images/<name>.sh and the guest's sprig-init. */
struct images *images_new(struct loop *l, struct store *st, const char *home,
    const char *libexec);
/* Cancels builds in progress (their waiters get -ECANCELED). */
void images_free(struct images *im);

/*
 * Makes sure image @name is built, building it if needed. @fn is called
 * exactly once, never from inside this call. Several callers share a build.
 */
void images_ensure(struct images *im, const char *name, image_ready_fn fn, void *arg);

/* Where image @name's current recipe stands: "ready", "building" or
 * "absent" (never built, or its build failed); *ret_progress is the build
 * log's last line or NULL (caller frees). */
int images_state(struct images *im, const char *name, const char **ret_state,
    char **ret_progress, char **cause);
/* Starts building image @name if it is not built or building. */
void images_build(struct images *im, const char *name);

/* The files of a built image (newly allocated paths). */
struct image_files {
	char	*kernel;
	char	*initrd;
	char	*rootfs;
};
int images_files(struct images *im, int64_t image_id, struct image_files *ret);
void image_files_done(struct image_files *f);

#endif
