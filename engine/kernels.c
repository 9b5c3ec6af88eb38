/* kernels.c: compute pipelines from the embedded SPIR-V, created lazily and cached.
 *
 * A pipeline is keyed by kernel name, storage type and specialization constants. Every
 * pipeline uses one descriptor set of storage buffers (bindings 0..n-1) and a 128-byte push
 * constant range. The driver's VkPipelineCache is loaded from and saved to
 * $XDG_CACHE_HOME/fovea (or ~/.cache/fovea); a file whose header does not match this device
 * and driver (vendor, device, pipelineCacheUUID, and driver version in the file name) is
 * ignored, never trusted. This file does not decide which kernel to run: see ops/plan*.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "kernels.h"

#define FV_PUSH_BYTES 128

const fv_shader_blob *fv_shader_find(const char *kernel, fv_dtype storage) {
  for (int i = 0; i < fv_shader_count; i++)
    if (fv_shader_table[i].storage == storage && strcmp(fv_shader_table[i].kernel, kernel) == 0)
      return &fv_shader_table[i];
  return NULL;
}

/* mkdir -p for the cache directory; failures are not errors (caching is an optimisation). */
static int make_dirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int r = mkdir(path, 0755);
    *p = '/';
    if (r != 0 && errno != EEXIST) return -1;
  }
  return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static void cache_path(fv_device *dev) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  char dir[900];
  if (xdg && *xdg)
    snprintf(dir, sizeof dir, "%s/fovea", xdg);
  else if (home && *home)
    snprintf(dir, sizeof dir, "%s/.cache/fovea", home);
  else
    return;
  if (make_dirs(dir) != 0) return;
  snprintf(dev->pipeline_cache_path, sizeof dev->pipeline_cache_path, "%s/pipelines-%04x-%04x-%08x.bin", dir,
           dev->info.vendor_id, dev->info.device_id, dev->info.driver_version);
}

/* Reads the saved cache if its header matches this device and driver; NULL otherwise. */
static void *load_cache(fv_device *dev, size_t *size) {
  *size = 0;
  if (!dev->pipeline_cache_path[0]) return NULL;
  FILE *f = fopen(dev->pipeline_cache_path, "rb");
  if (!f) return NULL;
  void *data = NULL;
  long len = -1;
  if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
  if (len < 32 || len > (256L << 20) || fseek(f, 0, SEEK_SET) != 0) goto done;
  data = malloc((size_t)len);
  if (!data || fread(data, 1, (size_t)len, f) != (size_t)len) goto reject;
  /* VkPipelineCacheHeaderVersionOne: length, version, vendorID, deviceID, pipelineCacheUUID */
  uint32_t header[4];
  memcpy(header, data, sizeof header);
  if (header[0] < 32 || header[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE || header[2] != dev->info.vendor_id ||
      header[3] != dev->info.device_id || memcmp((char *)data + 16, dev->info.pipeline_cache_uuid, 16) != 0)
    goto reject;
  *size = (size_t)len;
  goto done;
reject:
  free(data);
  data = NULL;
done:
  fclose(f);
  return data;
}

static void save_cache(fv_device *dev) {
  if (!dev->pipeline_cache || !dev->pipeline_cache_path[0]) return;
  size_t size = 0;
  if (vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, NULL) != VK_SUCCESS || size == 0) return;
  void *data = malloc(size);
  if (!data) return;
  if (vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, data) == VK_SUCCESS) {
    /* Write a private temporary and rename, so concurrent processes never see half a file. */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", dev->pipeline_cache_path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f) {
      int ok = fwrite(data, 1, size, f) == size;
      ok = (fclose(f) == 0) && ok;
      if (!ok || rename(tmp, dev->pipeline_cache_path) != 0) remove(tmp);
    }
  }
  free(data);
}

fv_status fv_kernels_init(fv_device *dev, fv_error *err) {
  cache_path(dev);
  size_t size = 0;
  void *data = load_cache(dev, &size);
  VkPipelineCacheCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO, .initialDataSize = size, .pInitialData = data};
  VkResult r = vkCreatePipelineCache(dev->device, &info, NULL, &dev->pipeline_cache);
  if (r != VK_SUCCESS && data) {
    /* A driver may still refuse data it wrote itself: start empty. */
    info.initialDataSize = 0;
    info.pInitialData = NULL;
    r = vkCreatePipelineCache(dev->device, &info, NULL, &dev->pipeline_cache);
  }
  free(data);
  return fv_vk_check(r, "vkCreatePipelineCache", err);
}

static void destroy_pipeline(fv_device *dev, fv_pipeline *p) {
  if (p->pipeline) vkDestroyPipeline(dev->device, p->pipeline, NULL);
  if (p->layout) vkDestroyPipelineLayout(dev->device, p->layout, NULL);
  if (p->set_layout) vkDestroyDescriptorSetLayout(dev->device, p->set_layout, NULL);
}

void fv_kernels_shutdown(fv_device *dev) {
  save_cache(dev);
  for (int i = 0; i < dev->n_pipelines; i++) destroy_pipeline(dev, &dev->pipelines[i]);
  free(dev->pipelines);
  dev->pipelines = NULL;
  dev->n_pipelines = dev->cap_pipelines = 0;
  if (dev->pipeline_cache) vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
  dev->pipeline_cache = VK_NULL_HANDLE;
}

static fv_status create_pipeline(fv_device *dev, const fv_shader_blob *blob, fv_pipeline *p, fv_error *err) {
  VkDescriptorSetLayoutBinding bindings[FV_MAX_BIND];
  for (uint32_t b = 0; b < p->n_bind; b++)
    bindings[b] = (VkDescriptorSetLayoutBinding){.binding = b,
                                                 .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                 .descriptorCount = 1,
                                                 .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
  VkDescriptorSetLayoutCreateInfo set_info = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = p->n_bind, .pBindings = bindings};
  if (fv_vk_check(vkCreateDescriptorSetLayout(dev->device, &set_info, NULL, &p->set_layout),
                  "vkCreateDescriptorSetLayout", err))
    return FV_ERR;
  VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = FV_PUSH_BYTES};
  VkPipelineLayoutCreateInfo layout_info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                            .setLayoutCount = 1,
                                            .pSetLayouts = &p->set_layout,
                                            .pushConstantRangeCount = 1,
                                            .pPushConstantRanges = &push};
  if (fv_vk_check(vkCreatePipelineLayout(dev->device, &layout_info, NULL, &p->layout), "vkCreatePipelineLayout", err))
    return FV_ERR;
  VkShaderModuleCreateInfo module_info = {
      .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = (size_t)blob->count * 4, .pCode = blob->words};
  VkShaderModule module;
  if (fv_vk_check(vkCreateShaderModule(dev->device, &module_info, NULL, &module), "vkCreateShaderModule", err))
    return FV_ERR;
  VkSpecializationMapEntry entries[FV_MAX_SPEC];
  for (uint32_t i = 0; i < p->n_spec; i++)
    entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = 4 * i, .size = 4};
  VkSpecializationInfo spec = {
      .mapEntryCount = p->n_spec, .pMapEntries = entries, .dataSize = 4 * (size_t)p->n_spec, .pData = p->spec};
  VkComputePipelineCreateInfo info = {.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                                      .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                                                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                                                .module = module,
                                                .pName = "main",
                                                .pSpecializationInfo = p->n_spec ? &spec : NULL},
                                      .layout = p->layout};
  VkResult r = vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &info, NULL, &p->pipeline);
  vkDestroyShaderModule(dev->device, module, NULL);
  if (r != VK_SUCCESS)
    return fv_fail(err, "Vulkan: creating the pipeline for kernel %s (%s) failed with %s", p->kernel,
                   fv_dtype_name(p->storage), fv_vk_result_name(r));
  return FV_OK;
}

fv_status fv_kernels_get(fv_device *dev, const char *kernel, fv_dtype storage, const uint32_t *spec, uint32_t n_spec,
                         uint32_t n_bind, const fv_pipeline **out, fv_error *err) {
  if (n_spec > FV_MAX_SPEC || n_bind > FV_MAX_BIND || strlen(kernel) >= sizeof dev->pipelines[0].kernel)
    return fv_fail(err, "kernel %s: %u specialization constants and %u bindings exceed the limits %d and %d", kernel,
                   n_spec, n_bind, FV_MAX_SPEC, FV_MAX_BIND);
  for (int i = 0; i < dev->n_pipelines; i++) {
    fv_pipeline *p = &dev->pipelines[i];
    if (p->storage == storage && p->n_spec == n_spec && strcmp(p->kernel, kernel) == 0 &&
        memcmp(p->spec, spec, 4 * (size_t)n_spec) == 0) {
      if (p->n_bind != n_bind)
        return fv_fail(err, "kernel %s is planned with %u bindings here and %u elsewhere", kernel, n_bind, p->n_bind);
      *out = p;
      return FV_OK;
    }
  }
  const fv_shader_blob *blob = fv_shader_find(kernel, storage);
  if (!blob)
    return fv_fail(err, "kernel %s (%s storage) is not built into this binary", kernel, fv_dtype_name(storage));
  if (storage == FV_F16 && !dev->info.storage16)
    return fv_fail(err, "device %s lacks 16-bit storage buffers, needed for fp16 storage; use fp32", dev->info.name);
  if (dev->n_pipelines == dev->cap_pipelines) {
    int cap = dev->cap_pipelines ? 2 * dev->cap_pipelines : 32;
    fv_pipeline *np = realloc(dev->pipelines, (size_t)cap * sizeof *np);
    if (!np) return fv_fail(err, "out of memory creating pipeline %s", kernel);
    dev->pipelines = np;
    dev->cap_pipelines = cap;
  }
  fv_pipeline *p = &dev->pipelines[dev->n_pipelines];
  memset(p, 0, sizeof *p);
  snprintf(p->kernel, sizeof p->kernel, "%s", kernel);
  p->storage = storage;
  p->n_spec = n_spec;
  p->n_bind = n_bind;
  if (n_spec) memcpy(p->spec, spec, 4 * (size_t)n_spec);
  if (create_pipeline(dev, blob, p, err)) {
    destroy_pipeline(dev, p);
    return FV_ERR;
  }
  dev->n_pipelines++;
  *out = p;
  return FV_OK;
}
