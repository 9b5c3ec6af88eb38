/* no_vulkan_shim.c: an LD_PRELOAD library that makes dlopen("libvulkan...") fail, so the CLI
 * test can check what a machine without any Vulkan loader sees: `fovea --help` and
 * `--device cpu` work, and asking for a Vulkan device fails with one clear message. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

void *dlopen(const char *file, int mode) {
  void *(*real)(const char *, int) = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
  if (file && strstr(file, "libvulkan")) return NULL;
  return real ? real(file, mode) : NULL;
}
