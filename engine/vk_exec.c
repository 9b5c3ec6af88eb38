/* vk_exec.c: the Vulkan executor: plan once, record once, replay per run.
 *
 * At creation the executor plans every op node into dispatches (ops/plan*.c), packs weights
 * into a few immutable blocks and uploads them, plans one activation arena by liveness,
 * creates one descriptor set per dispatch and records the whole graph into command buffers,
 * inserting a barrier only where a dispatch touches memory an earlier, unbarriered dispatch
 * wrote (or writes memory one read: arena reuse makes write-after-read hazards real).
 * A run writes inputs, submits the recorded chunks and waits.
 *
 * On unified-memory devices (lavapipe, integrated GPUs) the arena is mapped and inputs and
 * outputs are read and written in place; on discrete GPUs they go through a staging buffer
 * with copies recorded at the start and end of the replay.
 *
 * Not done here: choosing kernels (planners), splitting a graph whose tensors exceed the
 * binding range (models pick a batch size that fits; this file reports the limit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "ops/plan.h"
#include "vk_memory.h"

/* Work per submission, in estimated FLOPs: small enough that no submission runs long enough
 * to trip a desktop driver's watchdog (about 2 s) even on a slow integrated GPU. */
#define FV_CHUNK_FLOPS 8e9
#define FV_STAGING_CHUNK ((VkDeviceSize)64 << 20)
#define FV_ALIGN 256

typedef struct loc {
  int buffer; /* index into vk_exec.buffers, -1 when the node has no storage */
  VkDeviceSize offset, bytes;
} loc;

typedef struct recorded_dispatch {
  int node;
  fv_dispatch d;
  VkPipeline pipeline;
  VkPipelineLayout layout;
  VkDescriptorSetLayout set_layout;
  VkDescriptorSet set;
} recorded_dispatch;

typedef struct range {
  int buffer;
  VkDeviceSize begin, end;
} range;

typedef struct vk_exec {
  fv_exec base;
  fv_device *dev;
  fv_dtype storage;
  fv_vk_buffer *buffers; /* weight blocks, then the arena, then staging (discrete only) */
  int n_buffers, arena, staging;
  loc *locs;                /* per node */
  loc *scratch;             /* per node */
  VkDeviceSize *staging_at; /* per node: offset in staging for inputs and outputs */
  recorded_dispatch *dispatches;
  int n_dispatches;
  VkDescriptorPool pool;
  VkCommandBuffer *cmds;
  int n_cmds;
  VkFence fence;
  VkQueryPool queries;
  int *node_query; /* per node: timestamp index written after it, -1 if none */
  int n_queries;
  double *node_ms;
  /* hazard tracking while recording */
  range *written, *read;
  int n_written, n_read, cap_ranges;
} vk_exec;

static const fv_exec_backend vk_backend;

/* U8 image inputs are bytes and U32 inputs (random keys) raw words in either storage type. */
static size_t elem_size(const vk_exec *ex, const fv_node *n) {
  if (n->dtype == FV_U8 || n->dtype == FV_U32) return fv_dtype_size(n->dtype);
  return fv_dtype_size(ex->storage);
}

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }

static VkDeviceSize node_bytes(const vk_exec *ex, const fv_node *n) {
  return align_up((VkDeviceSize)fv_node_numel(n) * elem_size(ex, n), 16);
}

/* Rough cost of a node, only for splitting submissions. */
static double node_flops(const fv_graph *g, const fv_node *n) {
  double numel = (double)fv_node_numel(n);
  switch (n->op) {
    case FV_OP_MATMUL: return 2.0 * numel * (double)g->nodes[n->src[1]].shape[1];
    case FV_OP_ATTENTION: return 4.0 * numel * (double)n->shape[1];
    case FV_OP_ATTENTION_PROBE: /* q k^T for every head (ROWS of one query: an overestimate) */
      return 2.0 * (double)fv_node_numel(&g->nodes[n->src[0]]) / 3.0 * (double)g->nodes[n->src[0]].shape[1];
    default: return numel * 8.0;
  }
}

/* ---- conversions between host fp32 and the storage type -------------------------------- */

static void store_converted(vk_exec *ex, void *dst, const void *src, fv_dtype src_type, size_t first, size_t n) {
  size_t in_size = fv_dtype_size(src_type);
  const unsigned char *s = (const unsigned char *)src + first * in_size;
  if (src_type == ex->storage) {
    memcpy((unsigned char *)dst, s, n * in_size);
    return;
  }
  float tmp[1024];
  for (size_t done = 0; done < n;) {
    size_t k = n - done < 1024 ? n - done : 1024;
    fv_convert_to_f32(s + done * in_size, src_type, tmp, k);
    if (ex->storage == FV_F32) {
      memcpy((float *)dst + done, tmp, k * 4);
    } else {
      uint16_t *h = (uint16_t *)dst + done;
      for (size_t i = 0; i < k; i++) h[i] = fv_f32_to_f16(tmp[i]);
    }
    done += k;
  }
}

/* ---- one-off command submission (weight uploads) ---------------------------------------- */

static fv_status submit_and_wait(vk_exec *ex, VkCommandBuffer cmd, fv_error *err) {
  VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
  if (fv_vk_check(vkQueueSubmit(ex->dev->queue, 1, &submit, ex->fence), "vkQueueSubmit", err)) return FV_ERR;
  if (fv_vk_check(vkWaitForFences(ex->dev->device, 1, &ex->fence, VK_TRUE, UINT64_MAX), "vkWaitForFences", err))
    return FV_ERR;
  return fv_vk_check(vkResetFences(ex->dev->device, 1, &ex->fence), "vkResetFences", err);
}

static fv_status begin_one_off(vk_exec *ex, VkCommandBuffer *cmd, fv_error *err) {
  VkCommandBufferAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = ex->dev->command_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
  if (fv_vk_check(vkAllocateCommandBuffers(ex->dev->device, &alloc, cmd), "vkAllocateCommandBuffers", err))
    return FV_ERR;
  VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
  if (fv_vk_check(vkBeginCommandBuffer(*cmd, &begin), "vkBeginCommandBuffer", err)) {
    vkFreeCommandBuffers(ex->dev->device, ex->dev->command_pool, 1, cmd);
    return FV_ERR;
  }
  return FV_OK;
}

/* ---- memory: weights, arena, staging ----------------------------------------------------- */

static fv_status add_buffer(vk_exec *ex, VkDeviceSize size, fv_vk_memory kind, int *index, fv_error *err) {
  fv_vk_buffer *nb = realloc(ex->buffers, (size_t)(ex->n_buffers + 1) * sizeof *nb);
  if (!nb) return fv_fail(err, "out of memory");
  ex->buffers = nb;
  if (fv_vk_buffer_new(ex->dev, size, kind, &ex->buffers[ex->n_buffers], err)) return FV_ERR;
  *index = ex->n_buffers++;
  return FV_OK;
}

static fv_status check_binding(const vk_exec *ex, const fv_node *n, VkDeviceSize bytes, fv_error *err) {
  VkDeviceSize limit = ex->dev->info.max_storage_buffer_range;
  if (bytes > limit)
    return fv_fail(err,
                   "tensor %s (%s, %lld elements) needs %.1f MiB, more than device %s binds at once "
                   "(maxStorageBufferRange %.1f MiB); use a smaller batch",
                   n->name, fv_op_name(n->op), (long long)fv_node_numel(n), (double)bytes / (1 << 20),
                   ex->dev->info.name, (double)limit / (1 << 20));
  return FV_OK;
}

/* Packs weights into blocks and uploads them (mapped directly, or through staging). */
static fv_status upload_weights(vk_exec *ex, fv_error *err) {
  const fv_graph *g = ex->base.graph;
  const fv_device_info *info = &ex->dev->info;
  VkDeviceSize block_cap = info->max_allocation ? info->max_allocation : ((VkDeviceSize)1 << 30);
  if (block_cap > ((VkDeviceSize)1 << 30)) block_cap = (VkDeviceSize)1 << 30;
  /* assign blocks */
  VkDeviceSize used = 0;
  int block = -1, first_block = ex->n_buffers;
  VkDeviceSize *block_sizes = NULL;
  int n_blocks = 0;
  for (int i = 0; i < g->count; i++) {
    const fv_node *n = &g->nodes[i];
    if (n->op != FV_OP_WEIGHT) continue;
    VkDeviceSize bytes = node_bytes(ex, n);
    if (check_binding(ex, n, bytes, err)) goto fail;
    if (block < 0 || used + bytes > block_cap) {
      VkDeviceSize *nb = realloc(block_sizes, (size_t)(n_blocks + 1) * sizeof *nb);
      if (!nb) {
        fv_fail(err, "out of memory");
        goto fail;
      }
      block_sizes = nb;
      block = n_blocks++;
      block_sizes[block] = 0;
      used = 0;
    }
    ex->locs[i] = (loc){.buffer = first_block + block, .offset = used, .bytes = bytes};
    used = align_up(used + bytes, FV_ALIGN);
    block_sizes[block] = used;
  }
  for (int b = 0; b < n_blocks; b++) {
    int idx;
    if (add_buffer(ex, block_sizes[b], info->unified_memory ? FV_MEM_MAPPED_DEVICE : FV_MEM_DEVICE, &idx, err))
      goto fail;
  }
  free(block_sizes);
  block_sizes = NULL;
  if (info->unified_memory) {
    for (int i = 0; i < g->count; i++) {
      const fv_node *n = &g->nodes[i];
      if (n->op != FV_OP_WEIGHT) continue;
      void *dst = (char *)ex->buffers[ex->locs[i].buffer].map + ex->locs[i].offset;
      store_converted(ex, dst, n->data, n->data_dtype, 0, (size_t)fv_node_numel(n));
    }
    return FV_OK;
  }
  /* Discrete: fill a staging buffer, copy, repeat. */
  fv_vk_buffer staging;
  if (fv_vk_buffer_new(ex->dev, FV_STAGING_CHUNK, FV_MEM_STAGING, &staging, err)) return FV_ERR;
  size_t esize = fv_dtype_size(ex->storage);
  size_t per_chunk = FV_STAGING_CHUNK / esize;
  for (int i = 0; i < g->count; i++) {
    const fv_node *n = &g->nodes[i];
    if (n->op != FV_OP_WEIGHT) continue;
    size_t numel = (size_t)fv_node_numel(n);
    for (size_t first = 0; first < numel; first += per_chunk) {
      size_t k = numel - first < per_chunk ? numel - first : per_chunk;
      store_converted(ex, staging.map, n->data, n->data_dtype, first, k);
      VkCommandBuffer cmd;
      if (begin_one_off(ex, &cmd, err)) goto staging_fail;
      VkBufferCopy copy = {.srcOffset = 0, .dstOffset = ex->locs[i].offset + first * esize, .size = k * esize};
      vkCmdCopyBuffer(cmd, staging.buffer, ex->buffers[ex->locs[i].buffer].buffer, 1, &copy);
      fv_status st = fv_vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer", err);
      if (!st) st = submit_and_wait(ex, cmd, err);
      vkFreeCommandBuffers(ex->dev->device, ex->dev->command_pool, 1, &cmd);
      if (st) goto staging_fail;
    }
  }
  fv_vk_buffer_free(ex->dev, &staging);
  return FV_OK;
staging_fail:
  fv_vk_buffer_free(ex->dev, &staging);
  return FV_ERR;
fail:
  free(block_sizes);
  return FV_ERR;
}

/* Plans the activation arena: inputs, op outputs and per-node scratch, by liveness. */
static fv_status plan_arena(vk_exec *ex, const fv_op_plan *plans, fv_error *err) {
  const fv_graph *g = ex->base.graph;
  int n = g->count;
  fv_live_range *ranges = calloc((size_t)2 * n + 1, sizeof *ranges);
  int *range_of = malloc((size_t)2 * n * sizeof *range_of); /* node -> range, then n + node -> scratch range */
  if (!ranges || !range_of) {
    free(ranges);
    free(range_of);
    return fv_fail(err, "out of memory planning %d nodes", n);
  }
  int count = 0;
  for (int i = 0; i < n; i++) {
    range_of[i] = range_of[n + i] = -1;
    const fv_node *node = &g->nodes[i];
    if (node->op == FV_OP_WEIGHT) continue;
    ranges[count] = (fv_live_range){.first = node->op == FV_OP_INPUT ? 0 : i, .last = i, .bytes = node_bytes(ex, node)};
    /* Outputs stay readable after the run; inputs keep their values for the next replay. */
    if (node->is_output || node->op == FV_OP_INPUT) ranges[count].last = n;
    range_of[i] = count++;
    if (node->op != FV_OP_INPUT && plans[i].scratch_bytes) {
      ranges[count] = (fv_live_range){.first = i, .last = i, .bytes = align_up(plans[i].scratch_bytes, 16)};
      range_of[n + i] = count++;
    }
  }
  for (int i = 0; i < n; i++)
    for (int s = 0; s < FV_MAX_SRC; s++) {
      int src = g->nodes[i].src[s];
      if (src >= 0 && range_of[src] >= 0 && ranges[range_of[src]].last < i) ranges[range_of[src]].last = i;
    }
  uint64_t align =
      ex->dev->info.min_storage_offset_alignment > FV_ALIGN ? ex->dev->info.min_storage_offset_alignment : FV_ALIGN;
  uint64_t total = 0;
  fv_status st = fv_plan_live_ranges(ranges, count, align, &total, err);
  if (!st)
    st = add_buffer(ex, total, ex->dev->info.unified_memory ? FV_MEM_MAPPED_DEVICE : FV_MEM_DEVICE, &ex->arena, err);
  if (!st)
    for (int i = 0; i < n; i++) {
      if (range_of[i] >= 0)
        ex->locs[i] =
            (loc){.buffer = ex->arena, .offset = ranges[range_of[i]].offset, .bytes = ranges[range_of[i]].bytes};
      if (range_of[n + i] >= 0)
        ex->scratch[i] = (loc){
            .buffer = ex->arena, .offset = ranges[range_of[n + i]].offset, .bytes = ranges[range_of[n + i]].bytes};
    }
  free(ranges);
  free(range_of);
  return st;
}

static fv_status plan_staging(vk_exec *ex, fv_error *err) {
  const fv_graph *g = ex->base.graph;
  VkDeviceSize total = 0;
  for (int i = 0; i < g->count; i++) {
    const fv_node *n = &g->nodes[i];
    if (n->op == FV_OP_INPUT || n->is_output) {
      ex->staging_at[i] = total;
      total = align_up(total + node_bytes(ex, n), FV_ALIGN);
    }
  }
  return add_buffer(ex, total, FV_MEM_STAGING, &ex->staging, err);
}

/* ---- recording -------------------------------------------------------------------------- */

static int overlaps(const range *set, int n, const range *r) {
  for (int i = 0; i < n; i++)
    if (set[i].buffer == r->buffer && set[i].begin < r->end && r->begin < set[i].end) return 1;
  return 0;
}

static fv_status push_range(vk_exec *ex, range **set, int *n, range r, fv_error *err) {
  if (*n == ex->cap_ranges) {
    int cap = ex->cap_ranges ? 2 * ex->cap_ranges : 64;
    range *w = realloc(ex->written, (size_t)cap * sizeof *w);
    if (w) ex->written = w;
    range *rd = realloc(ex->read, (size_t)cap * sizeof *rd);
    if (rd) ex->read = rd;
    if (!w || !rd) return fv_fail(err, "out of memory recording");
    ex->cap_ranges = cap; /* set points at ex->written or ex->read, already updated */
  }
  (*set)[(*n)++] = r;
  return FV_OK;
}

static void memory_barrier(VkCommandBuffer cmd, VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                           VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
  VkMemoryBarrier b = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
  vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, &b, 0, NULL, 0, NULL);
}

static void compute_barrier(vk_exec *ex, VkCommandBuffer cmd) {
  memory_barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  ex->n_written = ex->n_read = 0;
}

/* The location a binding refers to. */
static fv_status binding_loc(const vk_exec *ex, int node, int bind, loc *out, fv_error *err) {
  const fv_node *n = &ex->base.graph->nodes[node];
  if (bind == FV_BIND_OUT) {
    *out = ex->locs[node];
  } else if (bind == FV_BIND_SCRATCH) {
    *out = ex->scratch[node];
    if (out->buffer < 0) return fv_fail(err, "node %s binds scratch memory but planned none", n->name);
  } else if (bind >= 0 && bind < FV_MAX_SRC && n->src[bind] >= 0) {
    *out = ex->locs[n->src[bind]];
  } else {
    return fv_fail(err, "node %s binds source %d, which it does not have", n->name, bind);
  }
  return FV_OK;
}

static fv_status record_dispatch(vk_exec *ex, VkCommandBuffer cmd, recorded_dispatch *rd, int first_of_node,
                                 fv_error *err) {
  range reads[FV_MAX_BIND], writes[FV_MAX_BIND];
  int n_reads = 0, n_writes = 0;
  for (uint32_t b = 0; b < rd->d.n_bind; b++) {
    loc l;
    if (binding_loc(ex, rd->node, rd->d.bind[b], &l, err)) return FV_ERR;
    range r = {l.buffer, l.offset, l.offset + l.bytes};
    if (rd->d.bind[b] == FV_BIND_OUT || rd->d.bind[b] == FV_BIND_SCRATCH) writes[n_writes++] = r;
    if (rd->d.bind[b] != FV_BIND_OUT) reads[n_reads++] = r;
  }
  int need = !first_of_node; /* dispatches of one node depend on each other (plan.h) */
  for (int i = 0; i < n_reads && !need; i++) need = overlaps(ex->written, ex->n_written, &reads[i]);
  for (int i = 0; i < n_writes && !need; i++)
    need = overlaps(ex->written, ex->n_written, &writes[i]) || overlaps(ex->read, ex->n_read, &writes[i]);
  if (need) compute_barrier(ex, cmd);
  for (int i = 0; i < n_reads; i++)
    if (push_range(ex, &ex->read, &ex->n_read, reads[i], err)) return FV_ERR;
  for (int i = 0; i < n_writes; i++)
    if (push_range(ex, &ex->written, &ex->n_written, writes[i], err)) return FV_ERR;

  uint32_t max_x = ex->dev->info.max_workgroup_count[0], max_y = ex->dev->info.max_workgroup_count[1];
  uint64_t groups = rd->d.groups ? rd->d.groups : 1;
  uint32_t gx = groups < max_x ? (uint32_t)groups : max_x;
  uint64_t gy = (groups + gx - 1) / gx;
  if (gy > max_y)
    return fv_fail(err, "node %s needs %llu workgroups, more than device %s can launch (%u x %u)",
                   ex->base.graph->nodes[rd->node].name, (unsigned long long)groups, ex->dev->info.name, max_x, max_y);
  vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, rd->pipeline);
  vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, rd->layout, 0, 1, &rd->set, 0, NULL);
  if (rd->d.push_words)
    vkCmdPushConstants(cmd, rd->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, rd->d.push_words * 4, rd->d.push);
  vkCmdDispatch(cmd, gx, (uint32_t)gy, 1);
  return FV_OK;
}

static fv_status make_dispatches(vk_exec *ex, const fv_op_plan *plans, fv_error *err) {
  const fv_graph *g = ex->base.graph;
  int total = 0, total_bind = 0;
  for (int i = 0; i < g->count; i++) {
    total += plans[i].n;
    for (int k = 0; k < plans[i].n; k++) total_bind += (int)plans[i].d[k].n_bind;
  }
  ex->dispatches = calloc((size_t)(total ? total : 1), sizeof *ex->dispatches);
  if (!ex->dispatches) return fv_fail(err, "out of memory");
  if (total == 0) return FV_OK;
  VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = (uint32_t)total_bind};
  VkDescriptorPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                     .maxSets = (uint32_t)total,
                                     .poolSizeCount = 1,
                                     .pPoolSizes = &size};
  if (fv_vk_check(vkCreateDescriptorPool(ex->dev->device, &pool, NULL, &ex->pool), "vkCreateDescriptorPool", err))
    return FV_ERR;
  for (int i = 0; i < g->count; i++)
    for (int k = 0; k < plans[i].n; k++) {
      recorded_dispatch *rd = &ex->dispatches[ex->n_dispatches];
      rd->node = i;
      rd->d = plans[i].d[k];
      const fv_pipeline *p;
      if (fv_kernels_get(ex->dev, rd->d.kernel, ex->storage, rd->d.spec, rd->d.n_spec, rd->d.n_bind, &p, err))
        return fv_fail_context(err, "node %s", g->nodes[i].name);
      rd->pipeline = p->pipeline; /* copy handles: the pipeline table may grow */
      rd->layout = p->layout;
      rd->set_layout = p->set_layout;
      VkDescriptorSetAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                           .descriptorPool = ex->pool,
                                           .descriptorSetCount = 1,
                                           .pSetLayouts = &rd->set_layout};
      if (fv_vk_check(vkAllocateDescriptorSets(ex->dev->device, &alloc, &rd->set), "vkAllocateDescriptorSets", err))
        return FV_ERR;
      VkDescriptorBufferInfo infos[FV_MAX_BIND];
      VkWriteDescriptorSet writes[FV_MAX_BIND];
      for (uint32_t b = 0; b < rd->d.n_bind; b++) {
        loc l;
        if (binding_loc(ex, i, rd->d.bind[b], &l, err)) return FV_ERR;
        infos[b] =
            (VkDescriptorBufferInfo){.buffer = ex->buffers[l.buffer].buffer, .offset = l.offset, .range = l.bytes};
        writes[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = rd->set,
                                           .dstBinding = b,
                                           .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &infos[b]};
      }
      vkUpdateDescriptorSets(ex->dev->device, rd->d.n_bind, writes, 0, NULL);
      ex->n_dispatches++;
    }
  return FV_OK;
}

static fv_status begin_chunk(vk_exec *ex, VkCommandBuffer *cmd, fv_error *err) {
  VkCommandBuffer *nc = realloc(ex->cmds, (size_t)(ex->n_cmds + 1) * sizeof *nc);
  if (!nc) return fv_fail(err, "out of memory");
  ex->cmds = nc;
  VkCommandBufferAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = ex->dev->command_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
  if (fv_vk_check(vkAllocateCommandBuffers(ex->dev->device, &alloc, &ex->cmds[ex->n_cmds]), "vkAllocateCommandBuffers",
                  err))
    return FV_ERR;
  *cmd = ex->cmds[ex->n_cmds++];
  VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  if (fv_vk_check(vkBeginCommandBuffer(*cmd, &begin), "vkBeginCommandBuffer", err)) return FV_ERR;
  if (ex->n_cmds > 1) compute_barrier(ex, *cmd); /* order after the previous submission's writes */
  return FV_OK;
}

static fv_status record(vk_exec *ex, fv_error *err) {
  const fv_graph *g = ex->base.graph;
  int discrete = ex->staging >= 0;
  VkCommandBuffer cmd;
  if (begin_chunk(ex, &cmd, err)) return FV_ERR;
  if (ex->queries) vkCmdResetQueryPool(cmd, ex->queries, 0, (uint32_t)ex->n_queries);
  if (discrete) {
    for (int i = 0; i < g->count; i++) {
      if (g->nodes[i].op != FV_OP_INPUT) continue;
      VkBufferCopy c = {.srcOffset = ex->staging_at[i], .dstOffset = ex->locs[i].offset, .size = ex->locs[i].bytes};
      vkCmdCopyBuffer(cmd, ex->buffers[ex->staging].buffer, ex->buffers[ex->arena].buffer, 1, &c);
    }
    memory_barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  } else {
    memory_barrier(cmd, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                   VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  }
  if (ex->queries) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ex->queries, 0);
  double chunk_flops = 0,
         chunk_limit = ex->base.options.chunk_flops > 0 ? ex->base.options.chunk_flops : FV_CHUNK_FLOPS;
  int d = 0;
  for (int i = 0; i < g->count; i++) {
    const fv_node *n = &g->nodes[i];
    if (n->op == FV_OP_INPUT || n->op == FV_OP_WEIGHT) continue;
    double flops = node_flops(g, n);
    if (chunk_flops > 0 && chunk_flops + flops > chunk_limit) {
      if (fv_vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer", err) || begin_chunk(ex, &cmd, err)) return FV_ERR;
      chunk_flops = 0;
    }
    chunk_flops += flops;
    for (int first = 1; d < ex->n_dispatches && ex->dispatches[d].node == i; d++, first = 0)
      if (record_dispatch(ex, cmd, &ex->dispatches[d], first, err)) return fv_fail_context(err, "node %s", n->name);
    if (ex->queries && ex->node_query[i] >= 0)
      vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ex->queries, (uint32_t)ex->node_query[i]);
  }
  if (discrete) {
    memory_barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                   VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
    for (int i = 0; i < g->count; i++) {
      if (!g->nodes[i].is_output) continue;
      VkBufferCopy c = {.srcOffset = ex->locs[i].offset, .dstOffset = ex->staging_at[i], .size = ex->locs[i].bytes};
      vkCmdCopyBuffer(cmd, ex->buffers[ex->arena].buffer, ex->buffers[ex->staging].buffer, 1, &c);
    }
    memory_barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                   VK_ACCESS_HOST_READ_BIT);
  } else {
    memory_barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                   VK_ACCESS_HOST_READ_BIT);
  }
  return fv_vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer", err);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void vk_free(fv_exec *base) {
  vk_exec *ex = (vk_exec *)base;
  fv_device *dev = ex->dev;
  vkDeviceWaitIdle(dev->device);
  if (ex->n_cmds) vkFreeCommandBuffers(dev->device, dev->command_pool, (uint32_t)ex->n_cmds, ex->cmds);
  if (ex->pool) vkDestroyDescriptorPool(dev->device, ex->pool, NULL);
  if (ex->queries) vkDestroyQueryPool(dev->device, ex->queries, NULL);
  if (ex->fence) vkDestroyFence(dev->device, ex->fence, NULL);
  for (int i = 0; i < ex->n_buffers; i++) fv_vk_buffer_free(dev, &ex->buffers[i]);
  free(ex->buffers);
  free(ex->locs);
  free(ex->scratch);
  free(ex->staging_at);
  free(ex->dispatches);
  free(ex->cmds);
  free(ex->node_query);
  free(ex->node_ms);
  free(ex->written);
  free(ex->read);
  free(ex);
}

fv_status fv_vk_exec_new(fv_device *dev, const fv_graph *g, const fv_exec_options *opt, fv_exec **out, fv_error *err) {
  *out = NULL;
  if (opt->storage == FV_F16 && !dev->info.storage16)
    return fv_fail(err, "device %s has no 16-bit storage buffers; fp16 storage needs them (use fp32)", dev->info.name);
  vk_exec *ex = calloc(1, sizeof *ex);
  fv_op_plan *plans = calloc((size_t)(g->count ? g->count : 1), sizeof *plans);
  if (!ex || !plans) {
    free(ex);
    free(plans);
    return fv_fail(err, "out of memory creating the executor");
  }
  ex->base = (fv_exec){.backend = &vk_backend, .graph = g, .options = *opt};
  ex->dev = dev;
  ex->storage = opt->storage;
  ex->arena = ex->staging = -1;
  ex->locs = calloc((size_t)g->count + 1, sizeof *ex->locs);
  ex->scratch = calloc((size_t)g->count + 1, sizeof *ex->scratch);
  ex->staging_at = calloc((size_t)g->count + 1, sizeof *ex->staging_at);
  ex->node_query = calloc((size_t)g->count + 1, sizeof *ex->node_query);
  ex->node_ms = calloc((size_t)g->count + 1, sizeof *ex->node_ms);
  if (!ex->locs || !ex->scratch || !ex->staging_at || !ex->node_query || !ex->node_ms) {
    fv_fail(err, "out of memory creating the executor");
    goto fail;
  }
  fv_kernel_caps caps = fv_device_kernel_caps(dev);
  for (int i = 0; i < g->count; i++) {
    const fv_node *n = &g->nodes[i];
    ex->locs[i].buffer = ex->scratch[i].buffer = -1;
    ex->node_query[i] = -1;
    if (n->op == FV_OP_WEIGHT && n->is_output) {
      fv_fail(err, "weight %s cannot be a graph output", n->name);
      goto fail;
    }
    if (n->op == FV_OP_INPUT || n->op == FV_OP_WEIGHT) continue;
    if (check_binding(ex, n, node_bytes(ex, n), err)) goto fail;
    if (fv_plan_node(&caps, g, i, ex->storage, &plans[i], err)) {
      fv_fail_context(err, "planning node %s", n->name);
      goto fail;
    }
    if (plans[i].scratch_bytes > dev->info.max_storage_buffer_range) {
      fv_fail(err, "node %s needs %.1f MiB of scratch, more than the binding limit", n->name,
              (double)plans[i].scratch_bytes / (1 << 20));
      goto fail;
    }
    if (opt->profile && dev->info.timestamps) ex->node_query[i] = ++ex->n_queries;
  }
  if (ex->n_queries) ex->n_queries++; /* query 0 marks the start */
  VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  if (fv_vk_check(vkCreateFence(dev->device, &fence, NULL, &ex->fence), "vkCreateFence", err)) goto fail;
  if (upload_weights(ex, err) || plan_arena(ex, plans, err)) goto fail;
  if (!dev->info.unified_memory && plan_staging(ex, err)) goto fail;
  if (ex->n_queries) {
    VkQueryPoolCreateInfo q = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                               .queryType = VK_QUERY_TYPE_TIMESTAMP,
                               .queryCount = (uint32_t)ex->n_queries};
    if (fv_vk_check(vkCreateQueryPool(dev->device, &q, NULL, &ex->queries), "vkCreateQueryPool", err)) goto fail;
  }
  if (make_dispatches(ex, plans, err) || record(ex, err)) goto fail;
  free(plans);
  *out = &ex->base;
  return FV_OK;
fail:
  free(plans);
  vk_free(&ex->base);
  return FV_ERR;
}

static void *host_view(vk_exec *ex, int node) {
  if (ex->staging >= 0) return (char *)ex->buffers[ex->staging].map + ex->staging_at[node];
  return (char *)ex->buffers[ex->locs[node].buffer].map + ex->locs[node].offset;
}

static fv_status vk_write(fv_exec *base, int node, const void *data, size_t count, fv_error *err) {
  vk_exec *ex = (vk_exec *)base;
  const fv_node *n = &base->graph->nodes[node];
  void *dst = host_view(ex, node);
  if (n->dtype == FV_U8 || n->dtype == FV_U32)
    memcpy(dst, data, count * fv_dtype_size(n->dtype));
  else
    store_converted(ex, dst, data, FV_F32, 0, count);
  (void)err;
  return FV_OK;
}

static fv_status vk_run(fv_exec *base, fv_error *err) {
  vk_exec *ex = (vk_exec *)base;
  for (int c = 0; c < ex->n_cmds; c++) {
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &ex->cmds[c]};
    if (fv_vk_check(vkQueueSubmit(ex->dev->queue, 1, &submit, c + 1 == ex->n_cmds ? ex->fence : VK_NULL_HANDLE),
                    "vkQueueSubmit", err))
      return FV_ERR;
  }
  VkResult r = vkWaitForFences(ex->dev->device, 1, &ex->fence, VK_TRUE, UINT64_MAX);
  if (r == VK_ERROR_DEVICE_LOST)
    return fv_fail(err, "Vulkan: the device was lost while running the graph (driver reset or watchdog)");
  if (fv_vk_check(r, "vkWaitForFences", err) ||
      fv_vk_check(vkResetFences(ex->dev->device, 1, &ex->fence), "vkResetFences", err))
    return FV_ERR;
  if (ex->queries) {
    uint64_t *stamps = calloc((size_t)ex->n_queries, sizeof *stamps);
    if (!stamps) return fv_fail(err, "out of memory reading timestamps");
    r = vkGetQueryPoolResults(ex->dev->device, ex->queries, 0, (uint32_t)ex->n_queries, (size_t)ex->n_queries * 8,
                              stamps, 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS) {
      uint64_t prev = stamps[0];
      for (int i = 0; i < base->graph->count; i++) {
        if (ex->node_query[i] < 0) continue;
        uint64_t t = stamps[ex->node_query[i]];
        ex->node_ms[i] = t >= prev ? (double)(t - prev) * ex->dev->info.timestamp_period * 1e-6 : 0.0;
        prev = t;
      }
    }
    free(stamps);
    if (fv_vk_check(r, "vkGetQueryPoolResults", err)) return FV_ERR;
  }
  return FV_OK;
}

static fv_status vk_read(fv_exec *base, int node, float *dst, size_t count, fv_error *err) {
  vk_exec *ex = (vk_exec *)base;
  (void)err;
  const void *src = host_view(ex, node);
  const fv_node *n = &base->graph->nodes[node];
  fv_convert_to_f32(src, n->dtype == FV_U8 || n->dtype == FV_U32 ? n->dtype : ex->storage, dst, count);
  return FV_OK;
}

static int vk_profile(fv_exec *base, fv_profile_entry *entries, int cap) {
  vk_exec *ex = (vk_exec *)base;
  if (!ex->queries) return 0;
  int n = 0;
  for (int d = 0; d < ex->n_dispatches; d++) {
    int node = ex->dispatches[d].node;
    if (d > 0 && ex->dispatches[d - 1].node == node) continue; /* one entry per node, named by its first kernel */
    const char *op = fv_op_name(base->graph->nodes[node].op), *kernel = ex->dispatches[d].d.kernel;
    int k = 0;
    while (k < n && !(strcmp(entries[k].op, op) == 0 && strcmp(entries[k].kernel, kernel) == 0)) k++;
    if (k == n) {
      if (n == cap) continue;
      entries[n++] = (fv_profile_entry){.op = op, .kernel = kernel};
    }
    entries[k].ms += ex->node_ms[node];
    entries[k].nodes++;
  }
  return n;
}

static const fv_exec_backend vk_backend = {
    .free = vk_free, .write = vk_write, .run = vk_run, .read = vk_read, .profile = vk_profile};
