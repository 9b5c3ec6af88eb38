/* vk_memory.h: Vulkan buffers and activation liveness planning (engine-internal). */
#ifndef FV_VK_MEMORY_H
#define FV_VK_MEMORY_H

#include <stdint.h>

#include "device_internal.h"

typedef enum fv_vk_memory {
  FV_MEM_DEVICE,        /* device-local, not mapped (discrete GPUs) */
  FV_MEM_MAPPED_DEVICE, /* device-local and host-visible, mapped (unified memory) */
  FV_MEM_STAGING        /* host-visible, mapped (uploads and readback on discrete GPUs) */
} fv_vk_memory;

typedef struct fv_vk_buffer {
  VkBuffer buffer;
  VkDeviceMemory memory;
  void *map; /* non-NULL for mapped kinds */
  VkDeviceSize size;
} fv_vk_buffer;

fv_status fv_vk_buffer_new(fv_device *dev, VkDeviceSize size, fv_vk_memory kind, fv_vk_buffer *out, fv_error *err);
void fv_vk_buffer_free(fv_device *dev, fv_vk_buffer *b);

/* One tensor's lifetime, in node indices [first, last], and its size; the planner sets offset. */
typedef struct fv_live_range {
  int first, last;
  uint64_t bytes;
  uint64_t offset;
} fv_live_range;

/* Assigns offsets (multiples of alignment) so that no two ranges alive at the same node
 * overlap in memory; *total is the arena size needed. */
fv_status fv_plan_live_ranges(fv_live_range *ranges, int n, uint64_t alignment, uint64_t *total, fv_error *err);

#endif
