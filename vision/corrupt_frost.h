/* corrupt_frost.h: frost textures (spec 3.7 and 7): where they come from, and the per-image crop.
 *
 * Two sources. Procedural (default): five 640x480 textures generated deterministically from a
 * frost seed by spec 7 (fractal value-noise haze plus six-armed branching crystals, glow and
 * soften, tinted between (60, 90, 110) and (235, 245, 255), then an affine grey adjustment to
 * the presets' mean/std (130, 25), (205, 22), (150, 28), (120, 43), (175, 30)). Or the user's
 * originals from --frost-dir DIR: frost1.png, frost2.png, frost3.png, frost4.jpg, frost5.jpg
 * (Fovea does not ship them; their rights are undocumented). Textures are made or loaded once
 * per fv_frost_textures and their resized versions cached per (resize rule, height, width).
 *
 * The crop follows the references: texture index ~ U{0..4}; the imagenet table resizes by
 * s = 1 if the texture covers the image, else the needed ratio, times 1.1 always (cv2
 * INTER_CUBIC); cifar10 and tiny resize by 0.2 and 0.3 (cv2 INTER_LINEAR); the original
 * ImageNet-C script (--variant hendrycks) does not resize; then row ~ randint[0, T_h - H - 1]
 * and column ~ randint[0, T_w - W - 1]. The blend with the image is a GPU op, not here.
 * Numbers made with procedural frost are not comparable with published frost errors. */
#ifndef FV_CORRUPT_FROST_H
#define FV_CORRUPT_FROST_H

#include <stdint.h>

#include "../engine/status.h"

#define FV_FROST_TEXTURES 5
#define FV_FROST_WIDTH 640 /* procedural texture size */
#define FV_FROST_HEIGHT 480

/* How a texture is resized before the crop: the three tables' rules, and none (hendrycks). */
enum { FV_FROST_RESIZE_IMAGENET = 0, FV_FROST_RESIZE_CIFAR10 = 1, FV_FROST_RESIZE_TINY = 2, FV_FROST_RESIZE_NONE = 3 };

typedef struct fv_frost_textures fv_frost_textures;

/* frost_dir NULL: procedural textures from frost_seed; otherwise the five files in frost_dir
 * (a missing or unreadable file is an error naming it and the five names expected). */
fv_status fv_frost_open(const char *frost_dir, uint32_t frost_seed, fv_frost_textures **out, fv_error *err);
void fv_frost_close(fv_frost_textures *t);

/* The frost layer for one image: crop receives height*width*3 floats (RGB, whole numbers in
 * 0..255). table: FV_FROST_RESIZE_* (0 imagenet = imagecorruptions' rule, 1 cifar10 x0.2,
 * 2 tiny x0.3, 3 none). Draws: engine/philox.h with key (seed, image_key), corruption 8
 * (frost), `severity`, draw index 0; stream 0 the texture index, 1 the row, 2 the column.
 * A sized texture that is not larger than the image in both directions (possible only with
 * the fixed cifar10/tiny scales, or no resize, on larger images) is an error, as numpy's
 * randint fails there too. Not thread-safe: the resize cache inside t is updated. */
fv_status fv_frost_crop(fv_frost_textures *t, int table, int height, int width, uint32_t seed, uint32_t image_key,
                        int severity, float *crop, fv_error *err);

/* "procedural (seed S)" or "user textures from DIR (sha256 h1 h2 h3 h4 h5)", each h the first
 * 12 hex digits of a file's SHA-256. Valid until fv_frost_close. */
const char *fv_frost_source(const fv_frost_textures *t);

/* Texture k (0..4) as loaded or generated, before any resize: RGB bytes, for tests and reports. */
const uint8_t *fv_frost_texture(const fv_frost_textures *t, int k, int *height, int *width);

#endif
