#include "serve.h"
/* placeholder: being written */
int serve_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }
