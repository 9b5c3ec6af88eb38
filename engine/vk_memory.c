/* vk_memory.c: buffers with their own memory, and the liveness planner for activations.
 *
 * Fovea makes few, large allocations: weight blocks, one activation arena per graph and, on
 * discrete GPUs, host-visible staging. Sub-allocation inside them is by offset; nothing here
 * frees individual tensors. The planner is a greedy best-offset packer: each tensor occupies
 * [offset, offset + bytes) from its first to its last use, and tensors whose lifetimes overlap
 * never share bytes. */
#include "vk_memory.h"

#include <stdlib.h>
#include <string.h>

static int find_memory_type(const fv_device *dev, uint32_t bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred) {
  int fallback = -1;
  for (uint32_t t = 0; t < dev->memory.memoryTypeCount; t++) {
    if (!(bits & (1u << t))) continue;
    VkMemoryPropertyFlags f = dev->memory.memoryTypes[t].propertyFlags;
    if ((f & required) != required) continue;
    if ((f & preferred) == preferred) return (int)t;
    if (fallback < 0) fallback = (int)t;
  }
  return fallback;
}

fv_status fv_vk_buffer_new(fv_device *dev, VkDeviceSize size, fv_vk_memory kind, fv_vk_buffer *out, fv_error *err) {
  memset(out, 0, sizeof *out);
  if (size == 0) size = 16;
  if (dev->info.max_allocation && size > dev->info.max_allocation)
    return fv_fail(err,
                   "Vulkan: a %.1f MiB allocation exceeds the device's maxMemoryAllocationSize (%.1f MiB); "
                   "use a smaller batch",
                   (double)size / (1 << 20), (double)dev->info.max_allocation / (1 << 20));
  VkBufferCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
      .size = size,
      .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
      .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
  if (fv_vk_check(vkCreateBuffer(dev->device, &info, NULL, &out->buffer), "vkCreateBuffer", err)) return FV_ERR;
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev->device, out->buffer, &req);
  VkMemoryPropertyFlags required = 0, preferred = 0;
  switch (kind) {
    case FV_MEM_DEVICE: required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT; break;
    case FV_MEM_MAPPED_DEVICE:
      required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                 VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      preferred = required | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      break;
    case FV_MEM_STAGING:
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      preferred = required | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      break;
  }
  int type = find_memory_type(dev, req.memoryTypeBits, required, preferred);
  if (type < 0) {
    fv_vk_buffer_free(dev, out);
    return fv_fail(err, "Vulkan: device %s has no memory type with the properties 0x%x this buffer needs",
                   dev->info.name, (unsigned)required);
  }
  VkMemoryAllocateInfo alloc = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
  VkResult r = vkAllocateMemory(dev->device, &alloc, NULL, &out->memory);
  if (r != VK_SUCCESS) {
    fv_vk_buffer_free(dev, out);
    return fv_fail(err, "Vulkan: allocating %.1f MiB of device memory failed with %s", (double)req.size / (1 << 20),
                   fv_vk_result_name(r));
  }
  if (fv_vk_check(vkBindBufferMemory(dev->device, out->buffer, out->memory, 0), "vkBindBufferMemory", err)) {
    fv_vk_buffer_free(dev, out);
    return FV_ERR;
  }
  if (kind != FV_MEM_DEVICE &&
      fv_vk_check(vkMapMemory(dev->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->map), "vkMapMemory", err)) {
    fv_vk_buffer_free(dev, out);
    return FV_ERR;
  }
  out->size = size;
  return FV_OK;
}

void fv_vk_buffer_free(fv_device *dev, fv_vk_buffer *b) {
  if (b->map) vkUnmapMemory(dev->device, b->memory);
  if (b->buffer) vkDestroyBuffer(dev->device, b->buffer, NULL);
  if (b->memory) vkFreeMemory(dev->device, b->memory, NULL);
  memset(b, 0, sizeof *b);
}

static int by_size_desc(const void *a, const void *b, void *ctx) {
  const fv_live_range *r = ctx;
  const int *x = a, *y = b;
  if (r[*x].bytes != r[*y].bytes) return r[*x].bytes < r[*y].bytes ? 1 : -1;
  return *x - *y;
}

/* qsort_r is a GNU extension; a small insertion sort keeps this portable and is fast enough
 * for graphs of a few thousand tensors. */
static void sort_indices(int *idx, int n, const fv_live_range *r) {
  for (int i = 1; i < n; i++) {
    int v = idx[i], j = i;
    while (j > 0 && by_size_desc(&idx[j - 1], &v, (void *)r) > 0) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = v;
  }
}

fv_status fv_plan_live_ranges(fv_live_range *ranges, int n, uint64_t alignment, uint64_t *total, fv_error *err) {
  *total = 0;
  int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
  int *placed = malloc((size_t)(n ? n : 1) * sizeof *placed);
  if (!order || !placed) {
    free(order);
    free(placed);
    return fv_fail(err, "out of memory planning %d tensors", n);
  }
  for (int i = 0; i < n; i++) order[i] = i;
  sort_indices(order, n, ranges);
  int n_placed = 0;
  for (int k = 0; k < n; k++) {
    fv_live_range *r = &ranges[order[k]];
    uint64_t bytes = (r->bytes + alignment - 1) / alignment * alignment;
    /* Try offset 0 and the end of every placed, lifetime-overlapping tensor; keep the lowest fit. */
    uint64_t best = UINT64_MAX;
    for (int c = -1; c < n_placed; c++) {
      uint64_t candidate = 0;
      if (c >= 0) {
        const fv_live_range *o = &ranges[placed[c]];
        if (o->last < r->first || o->first > r->last) continue;
        candidate = (o->offset + o->bytes + alignment - 1) / alignment * alignment;
      }
      if (candidate >= best) continue;
      int fits = 1;
      for (int j = 0; j < n_placed && fits; j++) {
        const fv_live_range *o = &ranges[placed[j]];
        if (o->last < r->first || o->first > r->last) continue;
        if (candidate < o->offset + o->bytes && o->offset < candidate + bytes) fits = 0;
      }
      if (fits) best = candidate;
    }
    r->offset = best;
    placed[n_placed++] = order[k];
    if (best + bytes > *total) *total = best + bytes;
  }
  free(order);
  free(placed);
  return FV_OK;
}
