/* device.h: the Vulkan instance and the one device Fovea runs on.
 *
 * Vulkan is loaded at run time through volk, so the binary starts (and `--device cpu`
 * works) on machines with no Vulkan loader at all. Devices are ranked discrete >
 * integrated > virtual > CPU; one GPU seen through two drivers (same deviceUUID) is
 * listed once. Features and limits are probed once into fv_device_info and kernels
 * choose their variants from that record. */
#ifndef FV_DEVICE_H
#define FV_DEVICE_H

#include <stdint.h>
#include <stdio.h>

#include "ops/plan.h"
#include "status.h"

typedef struct fv_device_info {
  char name[256];
  char driver[2 * 256 + 2]; /* driverName and driverInfo */
  const char *type;         /* "discrete", "integrated", "virtual", "cpu", "other" */
  int is_cpu;
  uint32_t vendor_id, device_id, driver_version, api_version;
  uint8_t uuid[16];
  int fp16_arithmetic, storage16;
  uint32_t subgroup_size;
  int subgroup_arithmetic;
  int cooperative_matrix; /* VK_KHR_cooperative_matrix advertised */
  uint64_t max_storage_buffer_range, max_allocation, device_local_bytes;
  uint32_t max_shared_bytes, max_workgroup_invocations, max_workgroup_count[3], max_workgroup_size[3];
  uint32_t min_storage_offset_alignment, max_push_bytes;
  float timestamp_period;
  int timestamps;
  int unified_memory; /* a heap that is both DEVICE_LOCAL and HOST_VISIBLE covers most memory */
  uint8_t pipeline_cache_uuid[16];
  uint32_t queue_family;
} fv_device_info;

typedef struct fv_device fv_device;

/* spec: NULL (use $FOVEA_DEVICE, else the best device), or a device index from
 * `fovea devices`. "cpu" is handled by the caller (it means no Vulkan device). */
fv_status fv_device_open(const char *spec, fv_device **out, fv_error *err);
void fv_device_close(fv_device *dev);
const fv_device_info *fv_device_get_info(const fv_device *dev);
fv_kernel_caps fv_device_kernel_caps(const fv_device *dev);
/* Lists all devices in rank order with their features and limits. */
fv_status fv_device_list(FILE *out, int json, fv_error *err);
/* Non-zero when FOVEA_VALIDATE=1 and the validation layer reported anything. */
int fv_device_validation_errors(const fv_device *dev);

#endif
