/* exec.c: dispatch from the executor interface to its backend (see exec.h). */
#include "exec.h"

#include <string.h>

fv_status fv_exec_new(fv_device *dev, const fv_graph *g, const fv_exec_options *opt, fv_exec **out, fv_error *err) {
  fv_exec_options defaults = {.storage = FV_F32};
  if (!opt) opt = &defaults;
  if (g->status != FV_OK) return fv_fail(err, "%s", g->error.msg);
  if (opt->storage != FV_F32 && opt->storage != FV_F16)
    return fv_fail(err, "executor: storage type %s is not supported, expected F32 or F16", fv_dtype_name(opt->storage));
  return dev ? fv_vk_exec_new(dev, g, opt, out, err) : fv_cpu_exec_new(g, opt, out, err);
}

void fv_exec_free(fv_exec *ex) {
  if (ex) ex->backend->free(ex);
}

static fv_status check_node(const fv_exec *ex, int node, fv_op want, size_t count, fv_error *err) {
  const fv_graph *g = ex->graph;
  if (node < 0 || node >= g->count) return fv_fail(err, "executor: node %d does not exist", node);
  const fv_node *n = &g->nodes[node];
  if (want == FV_OP_INPUT && n->op != FV_OP_INPUT)
    return fv_fail(err, "executor: node %s is a %s, not an input", n->name, fv_op_name(n->op));
  if (want != FV_OP_INPUT && !n->is_output)
    return fv_fail(err, "executor: node %s was not marked as an output", n->name);
  if ((size_t)fv_node_numel(n) != count)
    return fv_fail(err, "executor: node %s holds %lld elements, caller passed %zu", n->name,
                   (long long)fv_node_numel(n), count);
  return FV_OK;
}

fv_status fv_exec_write(fv_exec *ex, int node, const void *data, size_t count, fv_error *err) {
  if (check_node(ex, node, FV_OP_INPUT, count, err)) return FV_ERR;
  return ex->backend->write(ex, node, data, count, err);
}

fv_status fv_exec_run(fv_exec *ex, fv_error *err) { return ex->backend->run(ex, err); }

fv_status fv_exec_read(fv_exec *ex, int node, float *dst, size_t count, fv_error *err) {
  if (check_node(ex, node, FV_OP_COUNT, count, err)) return FV_ERR;
  return ex->backend->read(ex, node, dst, count, err);
}

int fv_exec_profile(fv_exec *ex, fv_profile_entry *entries, int cap) {
  return ex->backend->profile ? ex->backend->profile(ex, entries, cap) : 0;
}
