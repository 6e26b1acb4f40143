/*
 * ckptmount: the guest's view of its sprite's newest checkpoints (see
 * ckptmount.c): each checkpoint disk the host plugs in is mounted
 * read-only at CKPTMOUNT_DIR/<id> while it is there.
 */
#ifndef SPRIG_GUEST_CKPTMOUNT_H
#define SPRIG_GUEST_CKPTMOUNT_H

#define CKPTMOUNT_DIR	"/.sprite/checkpoints"

struct loop;

/* Makes CKPTMOUNT_DIR (a tmpfs, so the disk gets no mount points),
 * mounts the disks already there and watches for more (failures go to
 * the console). */
void ckptmount_start(struct loop *l);

#endif
