// Letterbox + colour order + /255 + NCHW for YOLO inputs, in one pass over the model input.
//
// One thread writes one input pixel (all three channels). Pixels outside the resized image get the
// pad value; pixels inside are resampled from the uint8 source with OpenCV's INTER_LINEAR for
// 8-bit images, bit for bit: the host precomputes OpenCV's per-column and per-row taps (source
// indices and 11-bit fixed-point weights, yolo_trt_ros/gpu/resize_taps.py), the horizontal pass
// keeps exact integers, and the vertical pass rounds like OpenCV's SIMD path
// (VResizeLinearVec_32s8u): ((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16), then (v + 2) >> 2.
// A same-size image has unit taps, so it is copied exactly. Self-contained: NVRTC needs no
// headers (FP16 conversion uses the PTX cvt instruction).

typedef unsigned char u8;
typedef unsigned short u16;

__device__ __forceinline__ u16 float_to_half_bits(float value) {
    u16 bits;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(value));
    return bits;
}

__device__ __forceinline__ void store(float* out, long long index, float value) { out[index] = value; }
__device__ __forceinline__ void store(u16* out, long long index, float value) {
    out[index] = float_to_half_bits(value);
}

// Rows (y0, y1, b0, b1) and columns (x0, x1, a0, a1) of the resize: source row indices and
// column byte offsets (channel stride included) with their fixed-point weights.
template <typename T>
__device__ __forceinline__ void letterbox(
    const u8* __restrict__ source, long long source_step, const int4* __restrict__ column_taps,
    const int4* __restrict__ row_taps, T* __restrict__ out, int out_width, int out_height, int top,
    int left, int resized_width, int resized_height, int channel_r, int channel_g, int channel_b,
    float pad) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_width || y >= out_height) return;
    const long long plane = (long long)out_width * out_height;
    const long long index = (long long)y * out_width + x;
    const int rx = x - left, ry = y - top;
    if (rx < 0 || ry < 0 || rx >= resized_width || ry >= resized_height) {
        store(out, index, pad);
        store(out, index + plane, pad);
        store(out, index + 2 * plane, pad);
        return;
    }
    const int4 column = column_taps[rx];
    const int4 row = row_taps[ry];
    const u8* row0 = source + row.x * source_step;
    const u8* row1 = source + row.y * source_step;
    const int channels[3] = {channel_r, channel_g, channel_b};
#pragma unroll
    for (int c = 0; c < 3; ++c) {
        const int offset = channels[c];
        const int h0 = row0[column.x + offset] * column.z + row0[column.y + offset] * column.w;
        const int h1 = row1[column.x + offset] * column.z + row1[column.y + offset] * column.w;
        int value = ((((h0 >> 4) * row.z) >> 16) + (((h1 >> 4) * row.w) >> 16) + 2) >> 2;
        value = min(max(value, 0), 255);
        // IEEE division, as the CPU path's NumPy divide (NVRTC keeps --prec-div=true).
        store(out, index + c * plane, __fdiv_rn((float)value, 255.0f));
    }
}

#define LETTERBOX_KERNEL(NAME, T)                                                                  \
    extern "C" __global__ void NAME(                                                              \
        const u8* source, long long source_step, const int4* column_taps, const int4* row_taps,   \
        T* out, int out_width, int out_height, int top, int left, int resized_width,              \
        int resized_height, int channel_r, int channel_g, int channel_b, float pad) {             \
        letterbox<T>(source, source_step, column_taps, row_taps, out, out_width, out_height, top, \
                     left, resized_width, resized_height, channel_r, channel_g, channel_b, pad);  \
    }

LETTERBOX_KERNEL(letterbox_fp32, float)
LETTERBOX_KERNEL(letterbox_fp16, u16)
