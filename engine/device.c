/* device.c: Vulkan instance, device choice, feature probing and validation-layer hookup.
 *
 * Vulkan is loaded through volk at run time, so nothing here links against libvulkan.
 * The device record (fv_device_info) is filled once; kernels read it to pick variants.
 * This file does not allocate memory or build pipelines: see vk_memory.c and kernels.c. */
#include "device.h"

#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

static const char *VALIDATION_LAYER = "VK_LAYER_KHRONOS_validation";
/* Newer than Debian 12's headers (1.3.239): probed by name only. */
static const char *COOPERATIVE_MATRIX_EXT = "VK_KHR_cooperative_matrix";

const char *fv_vk_result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VkResult error";
  }
}

fv_status fv_vk_check(VkResult r, const char *what, fv_error *err) {
  if (r == VK_SUCCESS) return FV_OK;
  return fv_fail(err, "Vulkan: %s failed with %s (%d)", what, fv_vk_result_name(r), (int)r);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                            VkDebugUtilsMessageTypeFlagsEXT type,
                                                            const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                            void *user) {
  (void)type;
  fv_device *dev = user;
  if (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
    dev->validation_errors++;
    fprintf(stderr, "fovea: Vulkan validation: %s\n", data && data->pMessage ? data->pMessage : "(no message)");
  }
  return VK_FALSE;
}

static int has_layer(const char *name) {
  uint32_t n = 0;
  if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS) return 0;
  VkLayerProperties *props = calloc(n ? n : 1, sizeof *props);
  int found = 0;
  if (props && vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS)
    for (uint32_t i = 0; i < n; i++)
      if (strcmp(props[i].layerName, name) == 0) found = 1;
  free(props);
  return found;
}

static int has_instance_extension(const char *name) {
  uint32_t n = 0;
  if (vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS) return 0;
  VkExtensionProperties *props = calloc(n ? n : 1, sizeof *props);
  int found = 0;
  if (props && vkEnumerateInstanceExtensionProperties(NULL, &n, props) == VK_SUCCESS)
    for (uint32_t i = 0; i < n; i++)
      if (strcmp(props[i].extensionName, name) == 0) found = 1;
  free(props);
  return found;
}

static int has_device_extension(VkPhysicalDevice pd, const char *name) {
  uint32_t n = 0;
  if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS) return 0;
  VkExtensionProperties *props = calloc(n ? n : 1, sizeof *props);
  int found = 0;
  if (props && vkEnumerateDeviceExtensionProperties(pd, NULL, &n, props) == VK_SUCCESS)
    for (uint32_t i = 0; i < n; i++)
      if (strcmp(props[i].extensionName, name) == 0) found = 1;
  free(props);
  return found;
}

static int validation_requested(void) {
  const char *v = getenv("FOVEA_VALIDATE");
  return v && strcmp(v, "0") != 0 && v[0] != '\0';
}

/* Creates the instance (and the validation messenger when FOVEA_VALIDATE is set). */
static fv_status create_instance(fv_device *dev, fv_error *err) {
  VkResult r = volkInitialize();
  if (r != VK_SUCCESS)
    return fv_fail(err,
                   "Vulkan: no Vulkan loader found (libvulkan.so.1); install one (Debian: libvulkan1 and "
                   "mesa-vulkan-drivers) or use --device cpu");
  uint32_t version = volkGetInstanceVersion();
  if (version < VK_API_VERSION_1_1)
    return fv_fail(err, "Vulkan: the loader supports Vulkan %u.%u, Fovea needs 1.1 or newer",
                   VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version));
  uint32_t api = version >= VK_API_VERSION_1_2 ? VK_API_VERSION_1_2 : VK_API_VERSION_1_1;

  const char *extensions[4];
  uint32_t n_ext = 0;
  VkInstanceCreateFlags flags = 0;
  if (has_instance_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
    extensions[n_ext++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
    flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
  }
  const char *layers[1];
  uint32_t n_layers = 0;
  dev->validate = validation_requested();
  if (dev->validate) {
    if (!has_layer(VALIDATION_LAYER))
      return fv_fail(err,
                     "Vulkan: FOVEA_VALIDATE is set but the layer %s is not installed (Debian: "
                     "vulkan-validationlayers)",
                     VALIDATION_LAYER);
    if (!has_instance_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
      return fv_fail(err, "Vulkan: FOVEA_VALIDATE is set but %s is missing", VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    layers[n_layers++] = VALIDATION_LAYER;
    extensions[n_ext++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  }
  VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                           .pApplicationName = "fovea",
                           .pEngineName = "fovea",
                           .apiVersion = api};
  VkDebugUtilsMessengerCreateInfoEXT messenger = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                                                  .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                                                     VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                                                  .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                                                 VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                                                 VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
                                                  .pfnUserCallback = on_validation_message,
                                                  .pUserData = dev};
  VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pNext = dev->validate ? &messenger : NULL,
                               .flags = flags,
                               .pApplicationInfo = &app,
                               .enabledLayerCount = n_layers,
                               .ppEnabledLayerNames = layers,
                               .enabledExtensionCount = n_ext,
                               .ppEnabledExtensionNames = extensions};
  if (fv_vk_check(vkCreateInstance(&info, NULL, &dev->instance), "vkCreateInstance", err)) return FV_ERR;
  volkLoadInstance(dev->instance);
  dev->api_version = api;
  if (dev->validate && fv_vk_check(vkCreateDebugUtilsMessengerEXT(dev->instance, &messenger, NULL, &dev->messenger),
                                   "vkCreateDebugUtilsMessengerEXT", err))
    return FV_ERR;
  return FV_OK;
}

static const char *type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

static int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

/* Device and driver names are printed inside JSON strings: drop the few characters that would
 * need escaping rather than carry an escaper for text no driver is known to contain. */
static void sanitize(char *s) {
  for (; *s; s++)
    if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) *s = ' ';
}

/* Reads everything Fovea uses about one physical device. */
static void probe(VkPhysicalDevice pd, uint32_t api, fv_device_info *info) {
  memset(info, 0, sizeof *info);
  VkPhysicalDeviceSubgroupProperties subgroup = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES, .pNext = &subgroup};
  VkPhysicalDeviceDriverProperties driver = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  if (api >= VK_API_VERSION_1_2) subgroup.pNext = &driver;
  VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &id};
  vkGetPhysicalDeviceProperties2(pd, &props);
  const VkPhysicalDeviceLimits *lim = &props.properties.limits;

  snprintf(info->name, sizeof info->name, "%s", props.properties.deviceName);
  if (api >= VK_API_VERSION_1_2)
    snprintf(info->driver, sizeof info->driver, "%s %s", driver.driverName, driver.driverInfo);
  sanitize(info->name);
  sanitize(info->driver);
  info->type = type_name(props.properties.deviceType);
  info->is_cpu = props.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  info->vendor_id = props.properties.vendorID;
  info->device_id = props.properties.deviceID;
  info->driver_version = props.properties.driverVersion;
  info->api_version = props.properties.apiVersion;
  memcpy(info->uuid, id.deviceUUID, 16);
  memcpy(info->pipeline_cache_uuid, props.properties.pipelineCacheUUID, 16);
  info->subgroup_size = subgroup.subgroupSize;
  info->subgroup_arithmetic = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                              (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  info->max_storage_buffer_range = lim->maxStorageBufferRange;
  info->max_shared_bytes = lim->maxComputeSharedMemorySize;
  info->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; i++) {
    info->max_workgroup_count[i] = lim->maxComputeWorkGroupCount[i];
    info->max_workgroup_size[i] = lim->maxComputeWorkGroupSize[i];
  }
  info->min_storage_offset_alignment = (uint32_t)lim->minStorageBufferOffsetAlignment;
  info->max_push_bytes = lim->maxPushConstantsSize;
  info->timestamp_period = lim->timestampPeriod;

  VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 props2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
  vkGetPhysicalDeviceProperties2(pd, &props2);
  info->max_allocation = m3.maxMemoryAllocationSize;

  VkPhysicalDevice16BitStorageFeatures storage16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceShaderFloat16Int8Features f16 = {.sType =
                                                       VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  if (api >= VK_API_VERSION_1_2) storage16.pNext = &f16;
  VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &storage16};
  vkGetPhysicalDeviceFeatures2(pd, &feats);
  info->storage16 = storage16.storageBuffer16BitAccess;
  info->fp16_arithmetic = f16.shaderFloat16;
  info->cooperative_matrix = has_device_extension(pd, COOPERATIVE_MATRIX_EXT);

  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  uint64_t device_local = 0, host_visible_local = 0;
  for (uint32_t h = 0; h < mem.memoryHeapCount; h++)
    if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) device_local += mem.memoryHeaps[h].size;
  for (uint32_t t = 0; t < mem.memoryTypeCount; t++) {
    VkMemoryPropertyFlags f = mem.memoryTypes[t].propertyFlags;
    VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                 VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint64_t heap = mem.memoryHeaps[mem.memoryTypes[t].heapIndex].size;
    if ((f & want) == want && heap > host_visible_local) host_visible_local = heap;
  }
  info->device_local_bytes = device_local;
  /* Unified memory: not a discrete card, and host-visible device-local memory covers most of it
   * (a discrete card's small BAR window does not count). */
  info->unified_memory = props.properties.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU &&
                         host_visible_local * 2 >= device_local && host_visible_local > 0;

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
  VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof *qf);
  info->queue_family = UINT32_MAX;
  if (qf) {
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf);
    /* Prefer a compute queue that also has timestamps. */
    for (uint32_t q = 0; q < nq; q++) {
      if (!(qf[q].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
      if (info->queue_family == UINT32_MAX || (qf[q].timestampValidBits && !info->timestamps)) {
        info->queue_family = q;
        info->timestamps = qf[q].timestampValidBits > 0 && lim->timestampComputeAndGraphics;
      }
    }
    free(qf);
  }
}

/* Enumerates devices into a ranked, UUID-deduplicated list. */
static fv_status list_devices(fv_device *dev, fv_error *err) {
  uint32_t n = 0;
  if (fv_vk_check(vkEnumeratePhysicalDevices(dev->instance, &n, NULL), "vkEnumeratePhysicalDevices", err))
    return FV_ERR;
  if (n == 0)
    return fv_fail(err,
                   "Vulkan: no Vulkan devices found; install a driver (Debian: mesa-vulkan-drivers) or use "
                   "--device cpu");
  VkPhysicalDevice *pds = calloc(n, sizeof *pds);
  dev->candidates = calloc(n, sizeof *dev->candidates);
  if (!pds || !dev->candidates) {
    free(pds);
    return fv_fail(err, "out of memory listing %u Vulkan devices", n);
  }
  VkResult r = vkEnumeratePhysicalDevices(dev->instance, &n, pds);
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
    free(pds);
    return fv_vk_check(r, "vkEnumeratePhysicalDevices", err);
  }
  dev->n_candidates = 0;
  for (uint32_t i = 0; i < n; i++) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pds[i], &p);
    if (p.apiVersion < VK_API_VERSION_1_1) continue; /* Fovea needs 1.1 features (subgroups, 16-bit storage) */
    fv_device_candidate c = {.physical = pds[i], .rank = type_rank(p.deviceType)};
    probe(pds[i], dev->api_version < p.apiVersion ? dev->api_version : p.apiVersion, &c.info);
    if (c.info.queue_family == UINT32_MAX) continue;
    int duplicate = 0;
    for (int j = 0; j < dev->n_candidates; j++)
      if (memcmp(dev->candidates[j].info.uuid, c.info.uuid, 16) == 0) duplicate = 1;
    if (duplicate) continue; /* one GPU seen through two drivers: keep the first */
    /* insertion sort keeps enumeration order within a rank */
    int pos = dev->n_candidates;
    while (pos > 0 && dev->candidates[pos - 1].rank > c.rank) {
      dev->candidates[pos] = dev->candidates[pos - 1];
      pos--;
    }
    dev->candidates[pos] = c;
    dev->n_candidates++;
  }
  free(pds);
  if (dev->n_candidates == 0)
    return fv_fail(err, "Vulkan: none of the %u devices supports Vulkan 1.1 compute; use --device cpu", n);
  return FV_OK;
}

static fv_status pick(fv_device *dev, const char *spec, int *index, fv_error *err) {
  if (!spec || !*spec) spec = getenv("FOVEA_DEVICE");
  if (!spec || !*spec || strcmp(spec, "auto") == 0) {
    *index = 0;
    return FV_OK;
  }
  char *end = NULL;
  long v = strtol(spec, &end, 10);
  if (end == spec || *end != '\0' || v < 0)
    return fv_fail(err, "device: '%s' is not a device index, 'auto' or 'cpu' (see `fovea devices`)", spec);
  if (v >= dev->n_candidates)
    return fv_fail(err, "device: index %ld does not exist; there are %d Vulkan devices (see `fovea devices`)", v,
                   dev->n_candidates);
  *index = (int)v;
  return FV_OK;
}

static fv_status create_device(fv_device *dev, fv_error *err) {
  const fv_device_info *info = &dev->info;
  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = info->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &priority};
  VkPhysicalDevice16BitStorageFeatures storage16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
                                                    .storageBuffer16BitAccess = (VkBool32)info->storage16};
  VkPhysicalDeviceShaderFloat16Int8Features f16 = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
      .shaderFloat16 = (VkBool32)info->fp16_arithmetic};
  if (dev->api_version >= VK_API_VERSION_1_2 && info->api_version >= VK_API_VERSION_1_2) storage16.pNext = &f16;
  VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &storage16};
  VkDeviceCreateInfo create = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                               .pNext = &feats,
                               .queueCreateInfoCount = 1,
                               .pQueueCreateInfos = &queue};
  if (fv_vk_check(vkCreateDevice(dev->physical, &create, NULL, &dev->device), "vkCreateDevice", err)) return FV_ERR;
  volkLoadDevice(dev->device);
  vkGetDeviceQueue(dev->device, info->queue_family, 0, &dev->queue);
  vkGetPhysicalDeviceMemoryProperties(dev->physical, &dev->memory);
  VkCommandPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                  .queueFamilyIndex = info->queue_family};
  return fv_vk_check(vkCreateCommandPool(dev->device, &pool, NULL, &dev->command_pool), "vkCreateCommandPool", err);
}

fv_status fv_device_open(const char *spec, fv_device **out, fv_error *err) {
  *out = NULL;
  fv_device *dev = calloc(1, sizeof *dev);
  if (!dev) return fv_fail(err, "out of memory opening the Vulkan device");
  int index = 0;
  if (create_instance(dev, err) || list_devices(dev, err) || pick(dev, spec, &index, err)) goto fail;
  dev->physical = dev->candidates[index].physical;
  dev->info = dev->candidates[index].info;
  /* Debugging aid: run the discrete-GPU path (staging uploads and readback) on a unified-memory
   * device, so that path is tested on machines without a discrete GPU. */
  const char *staging = getenv("FOVEA_FORCE_STAGING");
  if (staging && strcmp(staging, "1") == 0) dev->info.unified_memory = 0;
  if (create_device(dev, err) || fv_kernels_init(dev, err)) goto fail;
  *out = dev;
  return FV_OK;
fail:
  fv_device_close(dev);
  return FV_ERR;
}

void fv_device_close(fv_device *dev) {
  if (!dev) return;
  if (dev->device) {
    vkDeviceWaitIdle(dev->device);
    fv_kernels_shutdown(dev);
    if (dev->command_pool) vkDestroyCommandPool(dev->device, dev->command_pool, NULL);
    vkDestroyDevice(dev->device, NULL);
  }
  if (dev->messenger) vkDestroyDebugUtilsMessengerEXT(dev->instance, dev->messenger, NULL);
  if (dev->instance) vkDestroyInstance(dev->instance, NULL);
  free(dev->candidates);
  free(dev);
}

const fv_device_info *fv_device_get_info(const fv_device *dev) { return &dev->info; }

int fv_device_validation_errors(const fv_device *dev) { return dev ? dev->validation_errors : 0; }

fv_kernel_caps fv_device_kernel_caps(const fv_device *dev) {
  const fv_device_info *i = &dev->info;
  fv_kernel_caps caps = {.subgroup_size = i->subgroup_size,
                         .is_cpu = i->is_cpu,
                         .subgroup_arithmetic = i->subgroup_arithmetic,
                         .max_shared_bytes = i->max_shared_bytes,
                         .max_workgroup_invocations = i->max_workgroup_invocations};
  memcpy(caps.max_workgroup_size, i->max_workgroup_size, sizeof caps.max_workgroup_size);
  return caps;
}

static void print_info(FILE *out, int index, const fv_device_info *i, int json, int last) {
  char uuid[33];
  for (int b = 0; b < 16; b++) snprintf(uuid + 2 * b, 3, "%02x", i->uuid[b]);
  if (json) {
    fprintf(out,
            "  {\"index\": %d, \"name\": \"%s\", \"type\": \"%s\", \"driver\": \"%s\", \"vendor_id\": %u, "
            "\"device_id\": %u, \"uuid\": \"%s\", \"api_version\": \"%u.%u.%u\", \"fp16_arithmetic\": %s, "
            "\"storage16\": %s, \"subgroup_size\": %u, \"subgroup_arithmetic\": %s, \"cooperative_matrix\": %s, "
            "\"unified_memory\": %s, \"timestamps\": %s, \"device_local_bytes\": %llu, "
            "\"max_storage_buffer_range\": %llu, \"max_allocation\": %llu, \"max_shared_bytes\": %u, "
            "\"max_workgroup_invocations\": %u, \"max_workgroup_count\": [%u, %u, %u], "
            "\"min_storage_offset_alignment\": %u}%s\n",
            index, i->name, i->type, i->driver, i->vendor_id, i->device_id, uuid, VK_API_VERSION_MAJOR(i->api_version),
            VK_API_VERSION_MINOR(i->api_version), VK_API_VERSION_PATCH(i->api_version),
            i->fp16_arithmetic ? "true" : "false", i->storage16 ? "true" : "false", i->subgroup_size,
            i->subgroup_arithmetic ? "true" : "false", i->cooperative_matrix ? "true" : "false",
            i->unified_memory ? "true" : "false", i->timestamps ? "true" : "false",
            (unsigned long long)i->device_local_bytes, (unsigned long long)i->max_storage_buffer_range,
            (unsigned long long)i->max_allocation, i->max_shared_bytes, i->max_workgroup_invocations,
            i->max_workgroup_count[0], i->max_workgroup_count[1], i->max_workgroup_count[2],
            i->min_storage_offset_alignment, last ? "" : ",");
    return;
  }
  fprintf(out, "%d: %s (%s)\n", index, i->name, i->type);
  fprintf(out, "   driver            %s (Vulkan %u.%u.%u)\n", i->driver[0] ? i->driver : "?",
          VK_API_VERSION_MAJOR(i->api_version), VK_API_VERSION_MINOR(i->api_version),
          VK_API_VERSION_PATCH(i->api_version));
  fprintf(out, "   uuid              %s\n", uuid);
  fprintf(out, "   fp16              storage %s, arithmetic %s\n", i->storage16 ? "yes" : "no",
          i->fp16_arithmetic ? "yes" : "no");
  fprintf(out, "   subgroups         size %u, arithmetic %s\n", i->subgroup_size,
          i->subgroup_arithmetic ? "yes" : "no");
  fprintf(out, "   cooperative matrix %s (not used yet)\n", i->cooperative_matrix ? "advertised" : "no");
  fprintf(out, "   memory            %.1f GiB device-local, %s\n", (double)i->device_local_bytes / (1 << 30),
          i->unified_memory ? "unified (mapped directly)" : "discrete (staging uploads)");
  fprintf(out,
          "   limits            storage binding %.0f MiB, allocation %.0f MiB, shared %u KiB, "
          "workgroup %u invocations, groups %u x %u x %u\n",
          (double)i->max_storage_buffer_range / (1 << 20), (double)i->max_allocation / (1 << 20),
          i->max_shared_bytes / 1024, i->max_workgroup_invocations, i->max_workgroup_count[0],
          i->max_workgroup_count[1], i->max_workgroup_count[2]);
  fprintf(out, "   timestamps        %s\n", i->timestamps ? "yes (--profile works)" : "no");
}

fv_status fv_device_list(FILE *out, int json, fv_error *err) {
  fv_device *dev = calloc(1, sizeof *dev);
  if (!dev) return fv_fail(err, "out of memory listing devices");
  fv_status st = FV_OK;
  if (create_instance(dev, err) || list_devices(dev, err)) {
    st = FV_ERR;
  } else {
    if (json) fprintf(out, "[\n");
    for (int i = 0; i < dev->n_candidates; i++)
      print_info(out, i, &dev->candidates[i].info, json, i + 1 == dev->n_candidates);
    if (json) fprintf(out, "]\n");
  }
  fv_device_close(dev);
  return st;
}
