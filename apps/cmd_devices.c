/* cmd_devices.c: `fovea devices`: the Vulkan devices in the order Fovea ranks them. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int fv_cmd_devices(int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf(
          "usage: fovea devices [--json]\n\n"
          "Lists Vulkan devices, best first (discrete > integrated > virtual > CPU), with the features and\n"
          "limits Fovea uses. The index is what --device N and FOVEA_DEVICE take; 'cpu' selects the\n"
          "native CPU executor, which needs no Vulkan at all.\n");
      return 0;
    } else {
      fprintf(stderr, "fovea devices: error: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  fv_error err;
  if (fv_device_list(stdout, json, &err)) return fv_cli_error(err.msg);
  return 0;
}
