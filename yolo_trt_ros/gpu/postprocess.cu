// Device-side decoding of the raw YOLO head (N = 1, [4 + classes, anchors]) with NMS, so only the
// final detections cross back to the host.
//
// select_candidates: one thread per anchor takes the best class (first maximum, as argmax), keeps
// the anchor when its score passes the threshold and the class filter, and appends the xyxy box to
// a candidate list (order by atomicAdd, made deterministic by the sort below).
// suppress: one block sorts the candidates by (score descending, anchor ascending), which is the
// CPU decoder's stable order, then runs greedy NMS with torchvision's semantics (drop a box whose
// IoU with a kept box is > threshold; same class only unless agnostic; 0/0 never suppresses), and
// writes at most max_det rows (x1, y1, x2, y2, score, class) after a header holding the count,
// with the boxes mapped back to the source image when asked (LetterboxGeometry.to_source's float32
// arithmetic: subtract the padding, divide by the scale, clip to the image). It also clears the
// candidate counter for the next frame. Compiled with --fmad=false so box and
// IoU arithmetic round exactly as the NumPy decoder's float32 does.

typedef unsigned short u16;

#define SUPPRESS_THREADS 1024
#define MAX_CANDIDATES 30720

struct Candidate {
    float x1, y1, x2, y2, score;
    int class_id, anchor, pad;
};

__device__ __forceinline__ float load(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float load(const u16* p, long long i) {
    float value;
    asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(p[i]));
    return value;
}

template <typename T>
__device__ __forceinline__ void select_candidates(
    const T* __restrict__ head, int num_classes, int anchors, float conf,
    const unsigned char* __restrict__ class_allowed, Candidate* __restrict__ candidates,
    int* __restrict__ count, int capacity) {
    const int anchor = blockIdx.x * blockDim.x + threadIdx.x;
    if (anchor >= anchors) return;
    float best = load(head, (long long)4 * anchors + anchor);
    int best_class = 0;
    for (int c = 1; c < num_classes; ++c) {
        const float score = load(head, (long long)(4 + c) * anchors + anchor);
        if (score > best) {
            best = score;
            best_class = c;
        }
    }
    if (!(best > conf)) return;
    if (class_allowed != nullptr && !class_allowed[best_class]) return;
    const int slot = atomicAdd(count, 1);
    if (slot >= capacity) return;
    const float x = load(head, anchor), y = load(head, (long long)anchors + anchor);
    const float half_w = load(head, (long long)2 * anchors + anchor) / 2.0f;
    const float half_h = load(head, (long long)3 * anchors + anchor) / 2.0f;
    Candidate candidate;
    candidate.x1 = x - half_w;
    candidate.y1 = y - half_h;
    candidate.x2 = x + half_w;
    candidate.y2 = y + half_h;
    candidate.score = best;
    candidate.class_id = best_class;
    candidate.anchor = anchor;
    candidate.pad = 0;
    candidates[slot] = candidate;
}

#define SELECT_KERNEL(NAME, T)                                                                     \
    extern "C" __global__ void NAME(const T* head, int num_classes, int anchors, float conf,      \
                                    const unsigned char* class_allowed, Candidate* candidates,    \
                                    int* count, int capacity) {                                   \
        select_candidates<T>(head, num_classes, anchors, conf, class_allowed, candidates, count,  \
                             capacity);                                                           \
    }

SELECT_KERNEL(select_candidates_fp32, float)
SELECT_KERNEL(select_candidates_fp16, u16)

__device__ __forceinline__ bool ranks_before(float score_a, int anchor_a, float score_b,
                                             int anchor_b) {
    return score_a > score_b || (score_a == score_b && anchor_a < anchor_b);
}

// to_source: (x - left) / scale_x, clipped to [0, width]; NaN stays NaN, as with NumPy.
__device__ __forceinline__ float to_source(float value, float offset, float scale, float limit) {
    const float mapped = (value - offset) / scale;
    return mapped != mapped ? mapped : fminf(fmaxf(mapped, 0.0f), limit);
}

// Launch with one block of SUPPRESS_THREADS threads. sorted has room for capacity candidates;
// out holds 4 ints of header (count, candidates seen, 0, 0) then max_det rows of 6 floats.
// map_boxes: 0 keeps model-input pixels; 1 maps with (left, top, scale_x, scale_y, width, height).
extern "C" __global__ void __launch_bounds__(SUPPRESS_THREADS) suppress(
    const Candidate* __restrict__ candidates, int* __restrict__ count, int capacity, int max_nms,
    Candidate* __restrict__ sorted, float iou_threshold, int agnostic, int max_det,
    int* __restrict__ out, int map_boxes, float left, float top, float scale_x, float scale_y,
    float width, float height) {
    __shared__ float tile_score[SUPPRESS_THREADS];
    __shared__ int tile_anchor[SUPPRESS_THREADS];
    __shared__ unsigned char removed[MAX_CANDIDATES];
    __shared__ int total;
    const int tid = threadIdx.x;
    if (tid == 0) total = *count;
    __syncthreads();
    const int seen = total;
    const int n = min(min(seen, capacity), MAX_CANDIDATES);

    // Rank sort: each candidate's position is the number of candidates ordered before it.
    for (int base = 0; base < n; base += SUPPRESS_THREADS) {
        const int i = base + tid;
        Candidate mine;
        int rank = 0;
        if (i < n) mine = candidates[i];
        for (int tile = 0; tile < n; tile += SUPPRESS_THREADS) {
            __syncthreads();
            if (tile + tid < n) {
                tile_score[tid] = candidates[tile + tid].score;
                tile_anchor[tid] = candidates[tile + tid].anchor;
            }
            __syncthreads();
            if (i < n) {
                const int size = min(SUPPRESS_THREADS, n - tile);
                for (int j = 0; j < size; ++j)
                    rank += ranks_before(tile_score[j], tile_anchor[j], mine.score, mine.anchor);
            }
        }
        if (i < n) sorted[rank] = mine;
    }
    // Ultralytics' max_nms: only the best max_nms candidates enter NMS.
    const int m = min(n, max_nms);
    for (int i = tid; i < m; i += SUPPRESS_THREADS) removed[i] = 0;
    __syncthreads();

    float* rows = reinterpret_cast<float*>(out + 4);
    int kept = 0;
    for (int i = 0; i < m && kept < max_det; ++i) {
        if (removed[i]) continue;  // uniform: written before the last barrier
        const Candidate best = sorted[i];
        if (tid == 0) {
            float* row = rows + 6 * kept;
            if (map_boxes) {
                row[0] = to_source(best.x1, left, scale_x, width);
                row[1] = to_source(best.y1, top, scale_y, height);
                row[2] = to_source(best.x2, left, scale_x, width);
                row[3] = to_source(best.y2, top, scale_y, height);
            } else {
                row[0] = best.x1;
                row[1] = best.y1;
                row[2] = best.x2;
                row[3] = best.y2;
            }
            row[4] = best.score;
            row[5] = (float)best.class_id;
        }
        ++kept;
        const float area = (best.x2 - best.x1) * (best.y2 - best.y1);
        for (int j = i + 1 + tid; j < m; j += SUPPRESS_THREADS) {
            if (removed[j]) continue;
            const Candidate other = sorted[j];
            if (!agnostic && other.class_id != best.class_id) continue;
            const float w = fmaxf(fminf(best.x2, other.x2) - fmaxf(best.x1, other.x1), 0.0f);
            const float h = fmaxf(fminf(best.y2, other.y2) - fmaxf(best.y1, other.y1), 0.0f);
            const float inter = w * h;
            const float other_area = (other.x2 - other.x1) * (other.y2 - other.y1);
            const float iou = inter / (area + other_area - inter);
            if (iou > iou_threshold) removed[j] = 1;  // NaN (0/0) compares false: kept
        }
        __syncthreads();
    }
    if (tid == 0) {
        out[0] = kept;
        out[1] = seen;
        out[2] = 0;
        out[3] = 0;
        *count = 0;  // ready for the next frame, in stream order
    }
}
