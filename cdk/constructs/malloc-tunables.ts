/**
 * What the Lambdas set in `GLIBC_TUNABLES`: glibc's allocator keeps the memory it frees instead of
 * handing it back to the kernel (no mmap below 32 MB, no trimming below 256 MB). Each stream
 * record's Brotli encoder allocates and frees a few hundred KB; handed back, that memory is
 * faulted in again for the next record. On Node 22 and 24 in a Firecracker VM (Lambda runs in
 * them too), records of 400 events took 3.0-3.3 ms to write as glibc comes and 0.5-0.9 ms with
 * these settings (`BENCH_ONLY=records npm run bench` prints both); Node 20 was not affected.
 */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456';
