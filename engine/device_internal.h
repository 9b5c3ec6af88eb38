/* device_internal.h: the Vulkan objects behind fv_device, shared by the engine's Vulkan files
 * (device.c, kernels.c, vk_memory.c, vk_exec.c) and by nothing above the engine. */
#ifndef FV_DEVICE_INTERNAL_H
#define FV_DEVICE_INTERNAL_H

#include <volk.h>

#include "device.h"
#include "dtype.h"

typedef struct fv_device_candidate {
  VkPhysicalDevice physical;
  int rank;
  fv_device_info info;
} fv_device_candidate;

typedef struct fv_pipeline {
  char kernel[64];
  fv_dtype storage;
  uint32_t spec[FV_MAX_SPEC];
  uint32_t n_spec, n_bind;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  VkPipeline pipeline;
} fv_pipeline;

struct fv_device {
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
  int validate, validation_errors;
  uint32_t api_version;
  fv_device_candidate *candidates;
  int n_candidates;
  VkPhysicalDevice physical;
  fv_device_info info;
  VkDevice device;
  VkQueue queue;
  VkCommandPool command_pool;
  VkPhysicalDeviceMemoryProperties memory;
  /* kernels.c */
  VkPipelineCache pipeline_cache;
  char pipeline_cache_path[1024];
  fv_pipeline *pipelines;
  int n_pipelines, cap_pipelines;
};

const char *fv_vk_result_name(VkResult r);
/* FV_OK for VK_SUCCESS, otherwise a message naming the call and the result. */
fv_status fv_vk_check(VkResult r, const char *what, fv_error *err);

/* kernels.c */
fv_status fv_kernels_init(fv_device *dev, fv_error *err);
void fv_kernels_shutdown(fv_device *dev);
/* The compute pipeline for (kernel, storage, spec), created on first use. The pointer is valid
 * only until the next call (the table may grow): copy the handles. */
fv_status fv_kernels_get(fv_device *dev, const char *kernel, fv_dtype storage, const uint32_t *spec, uint32_t n_spec,
                         uint32_t n_bind, const fv_pipeline **out, fv_error *err);

#endif
