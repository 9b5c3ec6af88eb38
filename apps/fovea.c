/* fovea.c: the `fovea` command: dispatches to one subcommand per job. */
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} commands[] = {
    {"devices", fv_cmd_devices, "list Vulkan devices with the features and limits Fovea uses"},
    {"classify", fv_cmd_classify, "classify images with a timm ViT/DeiT model"},
    {"eval", fv_cmd_eval, "accuracy on a labelled data set (IDX or ImageFolder)"},
    {"attention", fv_cmd_attention, "attention maps, rollout, distance, entropy and ADL diversity per layer/head"},
    {"robustness", fv_cmd_robustness, "corruption robustness: errors, CE, mCE; resumable, shardable"},
    {"corrupt", fv_cmd_corrupt, "write ImageNet-C corrupted copies of images (19 corruptions, 5 severities)"},
    {"bench", fv_cmd_bench, "benchmark a model architecture with random weights"},
    {"filter", fv_cmd_filter, "label, select or corrupt the frames of a video"},
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: fovea <command> [options]\n\n"
          "Fovea runs vision models on any Vulkan GPU, or on the CPU (--device cpu).\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(out,
          "\nRun `fovea <command> --help` for a command's options.\n"
          "Environment: FOVEA_DEVICE (device index, 'auto' or 'cpu'), FOVEA_VALIDATE=1 (Khronos validation "
          "layer),\nXDG_CACHE_HOME (pipeline cache under $XDG_CACHE_HOME/fovea).\n");
}

int main(int argc, char **argv) {
  /* FFmpeg logs decoder complaints itself; Fovea reports each failure as one message of its own. */
  av_log_set_level(getenv("FOVEA_FFMPEG_LOG") ? AV_LOG_INFO : AV_LOG_QUIET);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "fovea: error: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
