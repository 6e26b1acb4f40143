/*
 * sprite-env: the command programs inside a sprite run to ask the host for
 * something (`sprite-env checkpoints list`). The same static binary as
 * sprig-init, called by this name.
 */
#ifndef SPRIG_GUEST_SPRITE_ENV_H
#define SPRIG_GUEST_SPRITE_ENV_H

/* Sends the command line to the host through sprig-init and prints the
 * answer. Returns the exit status. */
int sprite_env_main(int argc, char **argv);

#endif
